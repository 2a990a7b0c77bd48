package admin

import (
	"net/http"
	"time"

	"github.com/scopegate/scopegate/module/token"
)

// keyRotateBody is the optional body of POST /keys/rotate.
type keyRotateBody struct {
	// Sign with the new key at once instead of after key_prepublish.
	Emergency bool `json:"emergency"`
	// With Emergency: the replaced keys stop verifying at once.
	RetireOld bool `json:"retire_old"`
}

// keyView is a signing key as GET /keys and POST /keys/rotate show it.
type keyView struct {
	KID string `json:"kid"`
	// "pending", "signing" or "retired".
	State       string    `json:"state"`
	ActivatesAt time.Time `json:"activates_at"`
	// When it stops signing: null while no successor is scheduled.
	RetiresAt *time.Time `json:"retires_at"`
	// When it stops verifying (and leaves the JWKS): null while not retired.
	VerifiesUntil *time.Time `json:"verifies_until"`
}

func viewKey(k token.KeyInfo) keyView {
	return keyView{KID: k.KID, State: k.State, ActivatesAt: k.ActivatesAt, RetiresAt: timeOrNil(k.RetiresAt), VerifiesUntil: timeOrNil(k.VerifiesUntil)}
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// listKeys shows every key that verifies, newest activation first, with
// its state and schedule, read from the database. Super admins only, as
// rotation.
func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.super {
		return forbidden("only a super admin may list the signing keys")
	}
	keys, err := h.app.Keys().List(r.Context())
	if err != nil {
		return err
	}
	items := make([]keyView, 0, len(keys))
	for _, k := range keys {
		items = append(items, viewKey(k))
	}
	writeJSON(w, http.StatusOK, struct {
		Items []keyView `json:"items"`
		Total int       `json:"total"`
	}{items, len(items)})
	return nil
}
