package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/store"
)

// Integration states as a tenant admin sees them.
const (
	// integrationNew: offered, not decided yet.
	integrationNew = "new"
	// integrationAllowed: the tenant's pair exists and works.
	integrationAllowed = "allowed"
	// integrationDeclined: the tenant said no; it may still allow later.
	integrationDeclined = "declined"
	// integrationDisabled: the pair exists but is paused.
	integrationDisabled = "disabled"
)

// scopeRef is a requested scope with what it means, for the tenant admin
// who decides.
type scopeRef struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// false for an admin scope or scopegate.introspect (or one implying
	// either), which an allow never grants (apps registered before that
	// rule may still request one).
	Grantable bool `json:"grantable"`
}

// integrationView is one app as the admin of one tenant sees it.
type integrationView struct {
	AppID             string     `json:"app_id"`
	TenantID          string     `json:"tenant_id"`
	Name              string     `json:"name"`
	Description       string     `json:"description"`
	DeveloperTenantID string     `json:"developer_tenant_id"`
	RequestedScopes   []scopeRef `json:"requested_scopes"`
	// The redirect URIs the tenant's pair gets.
	RedirectURIs []string `json:"redirect_uris"`
	Status       string   `json:"status"`
	// The tenant's pair, once allowed (also while disabled).
	ClientID      string     `json:"client_id,omitempty"`
	GrantedScopes []string   `json:"granted_scopes"`
	DecidedBy     string     `json:"decided_by,omitempty"`
	DecidedAt     *time.Time `json:"decided_at,omitempty"`
}

// allowBody is the optional body of POST /integrations/{app_id}/allow.
type allowBody struct {
	// A subset of the requested scopes; default all of them.
	Scopes *[]string `json:"scopes"`
}

// pairView answers an allow: the tenant-specific credentials, shown once.
type pairView struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	TenantID     string   `json:"tenant_id"`
	AppID        string   `json:"app_id"`
	Scopes       []string `json:"scopes"`
}

// integration is an app, one tenant's decision on it and that tenant's pair.
type integration struct {
	tenant  string
	app     *store.DeveloperApp
	offered bool              // the app lists the tenant now
	conn    *store.Connection // nil: not decided
	client  *store.Client     // the pair, when allowed
}

func (in *integration) status() string {
	switch {
	case in.client != nil && in.client.Disabled:
		return integrationDisabled
	case in.client != nil:
		return integrationAllowed
	case in.conn != nil && in.conn.Status == store.ConnectionDeclined:
		return integrationDeclined
	}
	return integrationNew
}

func (h *Handler) viewIntegration(in *integration) integrationView {
	v := integrationView{
		AppID: in.app.ID, TenantID: in.tenant, Name: in.app.Name, Description: in.app.Description,
		DeveloperTenantID: in.app.DeveloperTenantID, RequestedScopes: make([]scopeRef, 0, len(in.app.RequestedScopes)),
		RedirectURIs: nonNil(in.app.RedirectURIs), Status: in.status(), GrantedScopes: []string{},
	}
	for _, name := range in.app.RequestedScopes {
		ref := scopeRef{Name: name, Grantable: !neverForApps(h.app.Catalogue(), name)}
		if s, ok := h.app.Catalogue().Get(name); ok {
			ref.Description = s.Description
		}
		v.RequestedScopes = append(v.RequestedScopes, ref)
	}
	if in.conn != nil {
		v.DecidedBy, v.DecidedAt = in.conn.DecidedBy, &in.conn.UpdatedAt
	}
	if in.client != nil {
		v.ClientID, v.GrantedScopes = in.client.ID, nonNil(in.client.AllowedScopes)
	}
	return v
}

// listIntegrations lists the apps offered to the tenant and those it
// decided on earlier (an app that stopped offering itself still shows the
// pair the tenant generated), oldest first.
func (h *Handler) listIntegrations(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	tenant, err := h.integrationTenant(r, c)
	if err != nil {
		return err
	}
	ctx := r.Context()
	offered, err := h.app.Store().OfferedApps(ctx, tenant)
	if err != nil {
		return err
	}
	conns, err := h.app.Store().ListConnections(ctx, tenant)
	if err != nil {
		return err
	}
	decided := make(map[string]*store.Connection, len(conns))
	for i := range conns {
		decided[conns[i].AppID] = &conns[i]
	}
	all := make([]integration, 0, len(offered))
	for i := range offered {
		all = append(all, integration{tenant: tenant, app: &offered[i], offered: true})
	}
	for _, conn := range conns {
		if offeredApp(offered, conn.AppID) {
			continue
		}
		a, err := h.app.Store().GetApp(ctx, conn.AppID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		all = append(all, integration{tenant: tenant, app: a})
	}

	total := int64(len(all))
	start := min(p.Offset, len(all))
	page := all[start : start+min(p.Limit, len(all)-start)]
	for i := range page {
		if err := h.attach(ctx, &page[i], decided[page[i].app.ID]); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, newList(page, total, p, h.viewIntegration))
	return nil
}

func offeredApp(apps []store.DeveloperApp, id string) bool {
	for _, a := range apps {
		if a.ID == id {
			return true
		}
	}
	return false
}

func (h *Handler) getIntegration(w http.ResponseWriter, r *http.Request, c *caller) error {
	in, err := h.loadIntegration(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.viewIntegration(in))
	return nil
}

// allowIntegration generates the tenant's own client for the app, with the
// scopes the admin grants; the secret is shown this once (later the usual
// /clients/{id}/secret rules apply: the allowing admin owns the client).
func (h *Handler) allowIntegration(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := refuseDelegated(c); err != nil {
		return err
	}
	in, err := h.loadIntegration(r, c)
	if err != nil {
		return err
	}
	var b allowBody
	if err := decodeBody(w, r, &b, true); err != nil {
		return err
	}
	if in.client != nil {
		return newProblem(http.StatusConflict, "tenant %q already allowed the app: its pair is client %q", in.tenant, in.client.ID)
	}
	if !in.offered {
		return newProblem(http.StatusConflict, "the app is no longer offered to tenant %q", in.tenant)
	}

	// An app is never handed admin power or scopegate.introspect: by
	// default such a scope an older app requests is skipped, and naming one
	// is refused.
	cat := h.app.Catalogue()
	granted := store.Strings{}
	for _, s := range in.app.RequestedScopes {
		if !neverForApps(cat, s) {
			granted = append(granted, s)
		}
	}
	var f fieldErrors
	if b.Scopes != nil {
		granted = dedupe(*b.Scopes)
		if len(granted) == 0 {
			f.add("scopes", "must list at least one scope (decline the app to grant none)")
		}
		for _, s := range granted {
			switch {
			case !in.app.RequestedScopes.Contains(s):
				f.add("scopes", "%q is not among the scopes the app requests", s)
			case neverForApps(cat, s):
				f.add("scopes", "%q is (or implies) %s, which is never granted to an app", s, builtInKind(cat, s))
			}
		}
	} else if len(granted) == 0 {
		f.add("scopes", "the app requests only admin scopes or scopegate.introspect, which are never granted to an app; decline it")
	}
	if !f.has("scopes") {
		for _, s := range cat.Unknown(granted) {
			f.add("scopes", "%q is no longer in the scope catalogue; grant a subset without it", s)
		}
	}
	if err := f.err(); err != nil {
		return err
	}

	appID := in.app.ID
	cl := &store.Client{
		ID: app.NewClientID(), TenantID: in.tenant, Name: in.app.Name, AuthMethod: store.AuthAPIKey,
		AllowedScopes: granted, DefaultScopes: append(store.Strings{}, granted...),
		RedirectURIs: append(store.Strings{}, in.app.RedirectURIs...), AppID: &appID, OwnerID: c.principal,
		CreatorUserID: c.adminUser,
	}
	plain, digest, ciphertext, err := h.app.NewSecret(cl.ID)
	if err != nil {
		return err
	}
	cl.SecretDigest, cl.SecretCiphertext = digest, ciphertext
	err = h.app.Store().AllowApp(r.Context(), appID, in.tenant, cl, c.actor(in.tenant))
	if errors.Is(err, store.ErrConflict) {
		return h.allowConflict(r.Context(), in)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, pairView{
		ClientID: cl.ID, ClientSecret: plain, TenantID: cl.TenantID, AppID: appID, Scopes: cl.AllowedScopes,
	})
	return nil
}

// allowConflict says why the store refused an allow: another request
// allowed the app first, or the tenant has a client of the app's name.
func (h *Handler) allowConflict(ctx context.Context, in *integration) error {
	conn, err := h.app.Store().GetConnection(ctx, in.app.ID, in.tenant)
	if err == nil && conn.Status == store.ConnectionAllowed {
		return newProblem(http.StatusConflict, "tenant %q already allowed the app", in.tenant)
	}
	return newProblem(http.StatusConflict,
		"tenant %q already has a client named %q: rename or delete that client, then allow the app again",
		in.tenant, in.app.Name)
}

// declineIntegration records the tenant's no. A generated pair is not
// declined away: it must be disabled or deleted, so nothing is revoked by
// surprise.
func (h *Handler) declineIntegration(w http.ResponseWriter, r *http.Request, c *caller) error {
	in, err := h.loadIntegration(r, c)
	if err != nil {
		return err
	}
	if err := decodeBody(w, r, &struct{}{}, true); err != nil {
		return err
	}
	pairExists := newProblem(http.StatusConflict,
		"tenant %q generated a pair for the app: disable or delete that client instead", in.tenant)
	if in.client != nil {
		return pairExists
	}
	err = h.app.Store().DeclineApp(r.Context(), in.app.ID, in.tenant, c.actor(in.tenant))
	if errors.Is(err, store.ErrConflict) {
		return pairExists
	}
	if err != nil {
		return err
	}
	return h.writeIntegration(w, r, in)
}

// disableIntegration pauses the tenant's pair: its tokens are refused at
// once and it gets no new ones; restore resumes the same credentials.
func (h *Handler) disableIntegration(w http.ResponseWriter, r *http.Request, c *caller) error {
	return h.setIntegrationDisabled(w, r, c, true)
}

func (h *Handler) restoreIntegration(w http.ResponseWriter, r *http.Request, c *caller) error {
	return h.setIntegrationDisabled(w, r, c, false)
}

func (h *Handler) setIntegrationDisabled(w http.ResponseWriter, r *http.Request, c *caller, disabled bool) error {
	in, err := h.loadIntegration(r, c)
	if err != nil {
		return err
	}
	if err := decodeBody(w, r, &struct{}{}, true); err != nil {
		return err
	}
	cl := in.client
	if cl == nil {
		return newProblem(http.StatusConflict, "tenant %q has no pair for the app; allow it first", in.tenant)
	}
	need, err := h.clientNeeds(r.Context(), cl)
	switch {
	case err != nil:
		return err
	case !c.covers(need):
		return cannotManage(need, cl.TenantID)
	case disabled && cl.ID == c.claims.ClientID:
		return newProblem(http.StatusConflict, "a client cannot disable itself; use another admin client's token")
	}
	err = h.app.Store().SetClientDisabled(r.Context(), cl.ID, disabled, c.actor(in.tenant))
	if err != nil {
		return err
	}
	return h.writeIntegration(w, r, in)
}

// writeIntegration answers with the integration as the database now has it.
func (h *Handler) writeIntegration(w http.ResponseWriter, r *http.Request, in *integration) error {
	fresh := &integration{tenant: in.tenant, app: in.app, offered: in.offered}
	conn, err := h.app.Store().GetConnection(r.Context(), in.app.ID, in.tenant)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := h.attach(r.Context(), fresh, conn); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.viewIntegration(fresh))
	return nil
}

// integrationTenant is the tenant an integration request is about: a
// tenant admin's own; a super admin's ?tenant_id=, or its own without one.
func (h *Handler) integrationTenant(r *http.Request, c *caller) (string, error) {
	q := r.URL.Query()
	if !q.Has("tenant_id") {
		return c.tenant, nil
	}
	want := q.Get("tenant_id")
	if !c.super {
		if want != c.tenant {
			return "", forbidden("a tenant admin can only manage its own tenant's integrations")
		}
		return want, nil
	}
	var f fieldErrors
	if err := h.checkTenant(r.Context(), &f, want); err != nil {
		return "", err
	}
	return want, f.err()
}

// loadIntegration returns the app named in the path as the request's
// tenant sees it: 404 unless the app is offered to that tenant or the
// tenant decided on it before.
func (h *Handler) loadIntegration(r *http.Request, c *caller) (*integration, error) {
	tenant, err := h.integrationTenant(r, c)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("app_id")
	if !validID(id) {
		return nil, notFound("integration")
	}
	ctx := r.Context()
	a, err := h.app.Store().GetApp(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("integration")
	}
	if err != nil {
		return nil, err
	}
	in := &integration{tenant: tenant, app: a, offered: a.TenantIDs.Contains(tenant)}
	conn, err := h.app.Store().GetConnection(ctx, a.ID, tenant)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err := h.attach(ctx, in, conn); err != nil {
		return nil, err
	}
	if !in.offered && in.conn == nil {
		return nil, notFound("integration")
	}
	return in, nil
}

// attach sets the tenant's decision (nil: none) and loads its pair.
func (h *Handler) attach(ctx context.Context, in *integration, conn *store.Connection) error {
	in.conn, in.client = conn, nil
	if conn == nil || conn.Status != store.ConnectionAllowed || conn.ClientID == nil {
		return nil
	}
	cl, err := h.app.Store().GetClient(ctx, *conn.ClientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		in.conn = nil // deleting a pair deletes its decision too; treat a stray one alike
	case err != nil:
		return err
	case cl.TenantID != in.tenant:
		in.conn = nil // moved to another tenant by a super admin: no longer this tenant's pair
	default:
		in.client = cl
	}
	return nil
}
