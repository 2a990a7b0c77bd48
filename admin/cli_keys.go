package admin

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

func keyCommands() *cobra.Command {
	rotate := cliCommand("rotate", "Pre-publishes a new key that signs after key_prepublish; the old ones keep verifying for key_overlap", func(s *session, _ []string) error {
		var body keyRotateBody
		body.Emergency, _ = s.cmd.Flags().GetBool("emergency")
		body.RetireOld, _ = s.cmd.Flags().GetBool("retire-old")
		raw, err := s.call(s.h.rotateKeys, http.MethodPost, "", body)
		if err != nil {
			return err
		}
		return s.show(raw, func(raw []byte) error {
			var v keyView
			if err := json.Unmarshal(raw, &v); err != nil {
				return err
			}
			if err := s.fields("kid", v.KID, "state", v.State, "activates_at", v.ActivatesAt.Format(time.RFC3339)); err != nil {
				return err
			}
			if body.RetireOld {
				s.note("The new key %s signs from %s; the previous keys stopped verifying: their tokens are refused now.",
					v.KID, v.ActivatesAt.Format(time.RFC3339))
				return nil
			}
			s.note("The new key %s is published now and signs from %s; the previous keys keep verifying for %s after that.",
				v.KID, v.ActivatesAt.Format(time.RFC3339), time.Duration(s.a.KeyOverlap))
			return nil
		})
	})
	rotate.Flags().Bool("emergency", false, "Sign with the new key at once (verifiers that cache the JWKS refuse its tokens until they refetch)")
	rotate.Flags().Bool("retire-old", false, "With --emergency: the replaced keys stop verifying at once (a compromised key)")
	return cliGroup("key", "Lists and rotates the token signing keys",
		cliCommand("list", "Lists the signing keys that still verify, newest first", func(s *session, _ []string) error {
			raw, err := s.call(s.h.listKeys, http.MethodGet, "", nil)
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
					rows = append(rows, []any{k.KID, k.State, k.ActivatesAt, k.RetiresAt, k.VerifiesUntil})
				}
				return s.table([]string{"KID", "STATE", "ACTIVATES_AT", "RETIRES_AT", "VERIFIES_UNTIL"}, rows, int64(len(rows)), 0)
			})
		}),
		rotate,
	)
}
