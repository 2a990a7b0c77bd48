package admin

import (
	"net/http"
	"time"

	"github.com/scopegate/scopegate/module/store"
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
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	tenant, err := tenantFilter(r, c)
	if err != nil {
		return err
	}
	rows, total, err := h.app.Store().ListAudit(r.Context(), tenant, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(rows, total, p, viewAudit))
	return nil
}

// rotateKeys starts signing with a new key; the old ones keep verifying for
// the app's key_overlap, so tokens already out stay good. The key ring is
// shared by every tenant, hence super admins only; the audit row belongs to
// no tenant.
func (h *Handler) rotateKeys(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.super {
		return forbidden("only a super admin may rotate the signing keys")
	}
	kid, err := h.app.Keys().Rotate(r.Context(), time.Duration(h.app.KeyOverlap), c.actor(""))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		KID string `json:"kid"`
	}{kid})
	return nil
}
