package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

// scopeView is a catalogue entry as the admin API shows it.
type scopeView struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// "2", "3" or "any".
	Legs           string   `json:"legs"`
	Implies        []string `json:"implies"`
	RequiredClaims []string `json:"required_claims"`
}

// auditView is an audit log entry as the admin API shows it.
type auditView struct {
	ID         uint64    `json:"id"`
	At         time.Time `json:"at"`
	TenantID   string    `json:"tenant_id"`
	Actor      string    `json:"actor"`
	Via        string    `json:"via"` // store.AuditEntry.Via: the token's client (and actor), "console" or ""
	Action     string    `json:"action"`
	Target     string    `json:"target"`
	RemoteAddr string    `json:"remote_addr"`
	Detail     string    `json:"detail"`
}

func viewAudit(e *store.AuditEntry) auditView {
	return auditView{
		ID: e.ID, At: e.At, TenantID: e.TenantID, Actor: e.Actor, Via: e.Via, Action: e.Action,
		Target: e.Target, RemoteAddr: e.RemoteAddr, Detail: e.Detail,
	}
}

// listScopes shows the catalogue, built-in scopes first.
func (h *Handler) listScopes(w http.ResponseWriter, _ *http.Request, _ *caller) error {
	all := h.app.Catalogue().All()
	items := make([]scopeView, 0, len(all))
	for _, s := range all {
		items = append(items, scopeView{
			Name: s.Name, Description: s.Description, Legs: s.Legs.String(),
			Implies: nonNil(s.Implies), RequiredClaims: nonNil(s.RequiredClaims),
		})
	}
	writeJSON(w, http.StatusOK, struct {
		Items []scopeView `json:"items"`
		Total int         `json:"total"`
	}{items, len(items)})
	return nil
}

// listAudit shows the audit log newest first; tenant admins see their own
// tenant's entries only.
func (h *Handler) listAudit(w http.ResponseWriter, r *http.Request, c *caller) error {
	return writeTenantList(w, r, c, h.app.Store().ListAudit, viewAudit)
}

// rotateKeys pre-publishes a new signing key: it is in the JWKS at once and
// signs after the app's key_prepublish, so upstreams that verify tokens
// from a cached JWKS know it before they meet it; the key it replaces keeps
// verifying for key_overlap after that. {"emergency": true} makes it sign
// at once (and replaces a pending key), adding "retire_old": true stops the
// replaced keys verifying at once. A rotation while a key is pending is a
// 409: replacing the key would restart the wait. The key ring is shared by
// every tenant, hence super admins only; the audit row belongs to no tenant.
func (h *Handler) rotateKeys(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.super {
		return forbidden("only a super admin may rotate the signing keys")
	}
	var b keyRotateBody
	if err := decodeBody(w, r, &b, true); err != nil {
		return err
	}
	if b.RetireOld && !b.Emergency {
		var f fieldErrors
		f.add("retire_old", "needs \"emergency\": true: without it the old key signs until the new one starts, so its tokens must keep verifying")
		return f.err()
	}
	next, err := h.app.Keys().Rotate(r.Context(), token.Rotation{
		Prepublish: time.Duration(h.app.KeyPrepublish), Overlap: time.Duration(h.app.KeyOverlap),
		Emergency: b.Emergency, RetireOld: b.RetireOld,
	}, c.actor(""))
	if pending, ok := errors.AsType[*store.PendingKeyError](err); ok {
		return newProblem(http.StatusConflict, "key %s is pre-published and starts signing at %s; rotate again after that, or make it an emergency rotation to replace it now ({\"emergency\": true}; on the command line, --emergency)",
			pending.KID, pending.ActivatesAt.UTC().Format(time.RFC3339))
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewKey(next))
	return nil
}
