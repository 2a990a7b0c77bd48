package admin

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// keyView is a signing key's public facts: never its private half.
type keyView struct {
	KID       string    `json:"kid"`
	Algorithm string    `json:"algorithm"`
	Signing   bool      `json:"signing"` // new tokens are signed with it
	CreatedAt time.Time `json:"created_at"`
	// When it stopped signing; null while it signs.
	RetiredAt *time.Time `json:"retired_at"`
	// When it stops verifying; null while it signs.
	VerifyUntil *time.Time `json:"verify_until"`
}

func keyCommands() *cobra.Command {
	return cliGroup("key", "Lists and rotates the token signing keys",
		cliCommand("list", "Lists the signing keys that still verify, newest first", func(s *session, _ []string) error {
			raw, err := s.call(s.h.cliListKeys, http.MethodGet, "", nil)
			if err != nil {
				return err
			}
			return s.show(raw, func(raw []byte) error {
				var l struct{ Items []keyView }
				if err := json.Unmarshal(raw, &l); err != nil {
					return err
				}
				rows := make([][]any, 0, len(l.Items))
				for _, k := range l.Items {
					status := "retired"
					if k.Signing {
						status = "signing"
					}
					rows = append(rows, []any{k.KID, k.Algorithm, status, k.CreatedAt, k.RetiredAt, k.VerifyUntil})
				}
				return s.table([]string{"KID", "ALGORITHM", "STATUS", "CREATED_AT", "RETIRED_AT", "VERIFY_UNTIL"}, rows, int64(len(rows)), 0)
			})
		}),
		cliCommand("rotate", "Starts signing with a new key; the old ones keep verifying for key_overlap", func(s *session, _ []string) error {
			raw, err := s.call(s.h.rotateKeys, http.MethodPost, "", nil)
			if err != nil {
				return err
			}
			return s.show(raw, func(raw []byte) error {
				var v struct{ KID string }
				if err := json.Unmarshal(raw, &v); err != nil {
					return err
				}
				if err := s.fields("kid", v.KID); err != nil {
					return err
				}
				s.note("New tokens are signed with %s; the previous keys keep verifying for %s. Running gateways pick it up from the change feed.",
					v.KID, time.Duration(s.a.KeyOverlap))
				return nil
			})
		}),
	)
}

// cliListKeys answers like an admin route with the key ring's public
// facts, read from the store. Only the command line uses it: the key ring
// is every tenant's, so it is a super admin's to see.
func (h *Handler) cliListKeys(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.super {
		return forbidden("only a super admin may list the signing keys")
	}
	keys, err := h.app.Store().ListSigningKeys(r.Context(), time.Now())
	if err != nil {
		return err
	}
	items := make([]keyView, 0, len(keys))
	signing := false
	for _, k := range keys { // newest first: the newest key not retired signs
		v := keyView{KID: k.KID, Algorithm: k.Algorithm, CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt, VerifyUntil: k.VerifyUntil}
		if k.RetiredAt == nil && !signing {
			v.Signing, signing = true, true
		}
		items = append(items, v)
	}
	writeJSON(w, http.StatusOK, struct {
		Items []keyView `json:"items"`
		Total int       `json:"total"`
	}{items, len(items)})
	return nil
}
