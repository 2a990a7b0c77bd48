package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scopegate/scopegate/module/power"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
)

// maxDescription bounds an app's description: a paragraph or two shown to
// tenant admins, not a document.
const maxDescription = 2000

// appView is a developer app as the admin API shows it.
type appView struct {
	ID                string    `json:"id"`
	Name              string    `json:"name"`
	Description       string    `json:"description"`
	DeveloperTenantID string    `json:"developer_tenant_id"`
	Owner             string    `json:"owner"`
	Scopes            []string  `json:"scopes"`
	TenantIDs         []string  `json:"tenant_ids"`
	RedirectURIs      []string  `json:"redirect_uris"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

func viewApp(a *store.DeveloperApp) appView {
	return appView{
		ID: a.ID, Name: a.Name, Description: a.Description, DeveloperTenantID: a.DeveloperTenantID, Owner: a.OwnerID,
		Scopes: nonNil(a.RequestedScopes), TenantIDs: nonNil(a.TenantIDs), RedirectURIs: nonNil(a.RedirectURIs),
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
}

// appBody is the body of POST and PATCH /apps: a member that is absent (or
// null) leaves the field as it is, or empty on create.
type appBody struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	// The scopes the app requests of each tenant.
	Scopes *[]string `json:"scopes"`
	// The tenants whose admins are offered the app.
	TenantIDs    *[]string `json:"tenant_ids"`
	RedirectURIs *[]string `json:"redirect_uris"`
	// Super admins only, on create: default the caller's tenant.
	DeveloperTenantID *string `json:"developer_tenant_id"`
}

// listApps lists the apps of the caller's developer tenant; super admins
// see every app, or one developer tenant's with ?developer_tenant_id=.
func (h *Handler) listApps(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	tenant, err := tenantFilterParam(r, c, "developer_tenant_id")
	if err != nil {
		return err
	}
	rows, total, err := h.app.Store().ListApps(r.Context(), tenant, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(rows, total, p, viewApp))
	return nil
}

func (h *Handler) createApp(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := refuseDelegated(c); err != nil {
		return err
	}
	var b appBody
	if err := decodeBody(w, r, &b, false); err != nil {
		return err
	}
	a := &store.DeveloperApp{
		ID: store.NewID(), DeveloperTenantID: c.tenant, OwnerID: c.principal,
		RequestedScopes: store.Strings{}, TenantIDs: store.Strings{}, RedirectURIs: store.Strings{},
	}
	if err := h.applyApp(r.Context(), c, a, &b, true); err != nil {
		return err
	}
	if err := h.app.Store().CreateApp(r.Context(), a, c.actor(a.DeveloperTenantID)); err != nil {
		return err
	}
	w.Header().Set("Location", "apps/"+url.PathEscape(a.ID))
	setETag(w, a.UpdatedAt)
	writeJSON(w, http.StatusCreated, viewApp(a))
	return nil
}

func (h *Handler) getApp(w http.ResponseWriter, r *http.Request, c *caller) error {
	a, err := h.loadApp(r, c)
	if err != nil {
		return err
	}
	if done, err := notModified(w, r, "app", a.UpdatedAt); done || err != nil {
		return err
	}
	setETag(w, a.UpdatedAt)
	writeJSON(w, http.StatusOK, viewApp(a))
	return nil
}

// patchApp changes an app. Pairs already generated keep what their tenant
// granted: a developer cannot widen a tenant's grant by editing the app.
func (h *Handler) patchApp(w http.ResponseWriter, r *http.Request, c *caller) error {
	a, err := h.loadApp(r, c)
	if err != nil {
		return err
	}
	if err := precondition(r, "app", a.UpdatedAt); err != nil {
		return err
	}
	var b appBody
	if err := decodeBody(w, r, &b, false); err != nil {
		return err
	}
	err = applyUntilSaved("app", conditional(r),
		func() error {
			if err := h.applyApp(r.Context(), c, a, &b, false); err != nil {
				return err
			}
			return h.app.Store().UpdateApp(r.Context(), a, c.actor(a.DeveloperTenantID))
		},
		func() (err error) { a, err = h.loadApp(r, c); return err })
	if err != nil {
		return err
	}
	a, err = h.app.Store().GetApp(r.Context(), a.ID)
	if err != nil {
		return err
	}
	setETag(w, a.UpdatedAt)
	writeJSON(w, http.StatusOK, viewApp(a))
	return nil
}

// loadApp returns the app named in the path, as 404 unless the caller
// administers its developer tenant.
func (h *Handler) loadApp(r *http.Request, c *caller) (*store.DeveloperApp, error) {
	id := r.PathValue("id")
	if !validID(id) {
		return nil, notFound("app")
	}
	a, err := h.app.Store().GetApp(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !c.sees(a.DeveloperTenantID)) {
		return nil, notFound("app")
	}
	return a, err
}

// applyApp merges b into a and validates the result, naming every bad field.
func (h *Handler) applyApp(ctx context.Context, c *caller, a *store.DeveloperApp, b *appBody, creating bool) error {
	var f fieldErrors
	if b.DeveloperTenantID != nil {
		switch {
		case !creating:
			f.add("developer_tenant_id", "cannot be changed")
		case !c.sees(*b.DeveloperTenantID):
			return forbidden("a tenant admin can only register apps of its own tenant")
		default:
			a.DeveloperTenantID = *b.DeveloperTenantID
		}
	}
	if b.Name != nil {
		a.Name = strings.TrimSpace(*b.Name)
	}
	if b.Description != nil {
		a.Description = strings.TrimSpace(*b.Description)
	}
	if b.Scopes != nil {
		a.RequestedScopes = dedupe(*b.Scopes)
	}
	if b.TenantIDs != nil {
		a.TenantIDs = dedupe(*b.TenantIDs)
	}
	if b.RedirectURIs != nil {
		a.RedirectURIs = dedupe(*b.RedirectURIs)
	}

	checkText(&f, "name", a.Name, 200, true)
	if creating || b.Name != nil {
		checkShownName(&f, "name", a.Name)
	}
	checkDescription(&f, "description", a.Description)
	if len(a.RequestedScopes) == 0 {
		f.add("scopes", "must list at least one scope")
	} else if b.Scopes != nil {
		cat := h.app.Catalogue()
		for _, s := range cat.Unknown(a.RequestedScopes) {
			f.add("scopes", "unknown scope %q", s)
		}
		// An app acts for a tenant, never administers it: whoever registers
		// it, no tenant admin's allow may hand a developer admin power.
		for _, s := range a.RequestedScopes {
			if neverForApps(cat, s) {
				f.add("scopes", "%q is (or implies) %s, which an app may not request", s, builtInKind(cat, s))
			}
		}
	}
	// A scope's clients option: each tenant's pair is named after the app,
	// and a pair it would not fit could never get a token (invalid_scope).
	if b.Scopes != nil || b.Name != nil {
		for _, s := range a.RequestedScopes {
			if def, ok := h.app.Catalogue().Get(s); ok && !def.ForClient(a.Name) {
				f.add("scopes", "%q is only for the client named %s, and each tenant's client of an app is named after the app", s, strings.Join(def.Clients, " or "))
			}
		}
	}
	// Tenants are not looked up: a developer learns nothing about which
	// tenants exist, and may name a tenant before it is created.
	if len(a.TenantIDs) == 0 {
		f.add("tenant_ids", "must list at least one tenant")
	}
	for i, id := range a.TenantIDs {
		if !tenantIDPattern.MatchString(id) {
			f.add("tenant_ids", "entry %d is not a valid tenant id", i)
		}
	}
	if creating || b.RedirectURIs != nil {
		checkRedirectURIs(&f, a.RedirectURIs)
	}
	if creating {
		if err := h.checkTenantField(ctx, &f, "developer_tenant_id", a.DeveloperTenantID); err != nil {
			return err
		}
	}
	return f.err()
}

// checkDescription validates free text that may span lines: at most
// maxDescription characters, no control characters but line breaks and tabs.
func checkDescription(f *fieldErrors, field, s string) {
	switch {
	case utf8.RuneCountInString(s) > maxDescription:
		f.add(field, "must be at most %d characters", maxDescription)
	case !printable(strings.NewReplacer("\r\n", "", "\n", "", "\t", "").Replace(s)):
		f.add(field, "must not contain control characters other than line breaks and tabs")
	}
}

// neverForApps reports whether scope s is, or implies, one of Scopegate's
// own scopes that no app is given: admin power, or scopegate.introspect,
// which would let a developer's pair read every token of the tenant that
// allowed it. An app acts for a tenant; it neither administers it nor
// watches its other clients.
func neverForApps(cat *scope.Catalogue, s string) bool {
	return power.IsAdminScope(cat, s) || cat.Satisfies([]string{s}, scope.Introspect)
}

// builtInKind names what makes s one of neverForApps' scopes.
func builtInKind(cat *scope.Catalogue, s string) string {
	if power.IsAdminScope(cat, s) {
		return "an admin scope"
	}
	return scope.Introspect
}
