package admin

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/scopegate/scopegate/module/store"
)

// tenantIDPattern keeps chosen tenant ids readable and safe in URLs, logs
// and token claims.
var tenantIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// tenantView is a tenant as the admin API shows it.
type tenantView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func viewTenant(t *store.Tenant) tenantView {
	return tenantView{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

// tenantBody is the body of POST /tenants.
type tenantBody struct {
	// Default: a random UUID.
	ID   *string `json:"id"`
	Name *string `json:"name"`
}

// listTenants lists every tenant for a super admin and the caller's own
// for a tenant admin.
func (h *Handler) listTenants(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	if c.super {
		rows, total, err := h.app.Store().ListTenants(r.Context(), p)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, newList(rows, total, p, viewTenant))
		return nil
	}
	t, err := h.app.Store().GetTenant(r.Context(), c.tenant)
	if errors.Is(err, store.ErrNotFound) {
		t, err = nil, nil
	}
	if err != nil {
		return err
	}
	var rows []store.Tenant
	if t != nil && p.Offset == 0 {
		rows = append(rows, *t)
	}
	total := int64(0)
	if t != nil {
		total = 1
	}
	writeJSON(w, http.StatusOK, newList(rows, total, p, viewTenant))
	return nil
}

func (h *Handler) createTenant(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.super {
		return forbidden("only a super admin may create tenants")
	}
	var b tenantBody
	if err := decodeBody(w, r, &b, false); err != nil {
		return err
	}
	t := &store.Tenant{ID: store.NewID()}
	if b.ID != nil {
		t.ID = *b.ID
	}
	if b.Name != nil {
		// In NFC, as usernames: the console's sign-in finds the name however
		// it is typed (store.TenantIDFor).
		t.Name = norm.NFC.String(strings.TrimSpace(*b.Name))
	}
	var f fieldErrors
	if !tenantIDPattern.MatchString(t.ID) {
		f.add("id", "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	} else if err := store.CheckTenantID(t.ID); err != nil {
		f.add("id", "%v", err)
	}
	checkText(&f, "name", t.Name, 200, true)
	if err := f.err(); err != nil {
		return err
	}
	if err := h.app.Store().CreateTenant(r.Context(), t, c.actor(t.ID)); err != nil {
		if errors.Is(err, store.ErrConflict) {
			if b.ID == nil {
				// The id was made up here: naming it would point at no tenant.
				return newProblem(http.StatusConflict, "a tenant named %q already exists", t.Name)
			}
			return newProblem(http.StatusConflict, "a tenant with id %q or name %q already exists", t.ID, t.Name)
		}
		if errors.Is(err, store.ErrTenantNameIsID) {
			if b.ID == nil {
				return newProblem(http.StatusConflict, "another tenant has %q as its id (in some letter case or Unicode form), and the console's sign-in takes either: choose another name", t.Name)
			}
			return newProblem(http.StatusConflict, "another tenant has %q as its id or %q as its name (in some letter case or Unicode form), and the console's sign-in takes either: choose another", t.Name, t.ID)
		}
		if errors.Is(err, store.ErrTenantNameAlike) {
			return newProblem(http.StatusConflict, "another tenant's name differs from %q only in letter case or Unicode form, and the console's sign-in takes names: choose another", t.Name)
		}
		if errors.Is(err, store.ErrTenantIDCase) {
			return newProblem(http.StatusConflict, "another tenant's id differs from %q only in letter case, and an upstream may not tell tenant ids apart by case: choose another id", t.ID)
		}
		if errors.Is(err, store.ErrTenantUUIDTaken) {
			return newProblem(http.StatusConflict, "a tenant made earlier already has the UUID %s that tenant %q would get; choose another id", store.TenantUUID(t.ID), t.ID)
		}
		return err
	}
	w.Header().Set("Location", "tenants/"+url.PathEscape(t.ID))
	writeJSON(w, http.StatusCreated, viewTenant(t))
	return nil
}

func (h *Handler) getTenant(w http.ResponseWriter, r *http.Request, c *caller) error {
	id := r.PathValue("id")
	if !validID(id) || !c.sees(id) {
		return notFound("tenant")
	}
	t, err := h.app.Store().GetTenant(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("tenant")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewTenant(t))
	return nil
}
