package admin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/power"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
)

// masked stands in for a secret the caller may not see.
const masked = "********"

// oob is the redirect URI of clients that show the code to the user
// instead of redirecting (RFC 8252's predecessor, still in use).
const oob = "urn:ietf:wg:oauth:2.0:oob"

// clientView is a client as the admin API shows it: the secret is always
// masked here, and empty for a public client, which has none to use.
type clientView struct {
	ClientID             string    `json:"client_id"`
	Name                 string    `json:"name"`
	TenantID             string    `json:"tenant_id"`
	AuthMethod           string    `json:"auth_method"`
	Status               string    `json:"status"`
	Scopes               []string  `json:"scopes"`
	DefaultScopes        []string  `json:"default_scopes"`
	RedirectURIs         []string  `json:"redirect_uris"`
	TokenLifetimeMinutes int       `json:"token_lifetime_minutes"`
	MaxMinutesPerDay     int       `json:"max_minutes_per_day"`
	AllowUserTokens      bool      `json:"allow_user_tokens"`
	ConnectAsUserID      *string   `json:"connect_as_user_id"`
	AllowImpersonation   bool      `json:"allow_impersonation"`
	Owner                string    `json:"owner"`
	CreatedAt            time.Time `json:"created_at"`
	UpdatedAt            time.Time `json:"updated_at"`
	ClientSecret         string    `json:"client_secret"`
	ImplicitGrant        bool      `json:"implicit_grant"`
	GrantTypes           []string  `json:"grant_types"`
	Public               bool      `json:"public"`
	// TokensRevokedAt is when an admin last ended the client's tokens
	// (revoke_tokens); null when never.
	TokensRevokedAt *time.Time `json:"tokens_revoked_at"`
}

func viewClient(c *store.Client) clientView {
	status := "active"
	if c.Disabled {
		status = "disabled"
	}
	v := clientView{
		ClientID: c.ID, Name: c.Name, TenantID: c.TenantID, AuthMethod: c.AuthMethod, Status: status,
		Scopes: nonNil(c.AllowedScopes), DefaultScopes: nonNil(c.DefaultScopes), RedirectURIs: nonNil(c.RedirectURIs),
		TokenLifetimeMinutes: c.TokenLifetimeMinutes, MaxMinutesPerDay: c.MaxMinutesPerDay,
		AllowUserTokens: c.AllowUserTokens, ConnectAsUserID: c.ConnectAsUserID, AllowImpersonation: c.AllowImpersonation,
		Owner: c.OwnerID, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, ClientSecret: masked,
		ImplicitGrant: c.AllowsGrant(store.GrantImplicit), GrantTypes: nonNil(c.GrantTypes), Public: c.Public,
		TokensRevokedAt: c.TokensRevokedAt,
	}
	if c.Public || c.SecretDigest == "" {
		v.ClientSecret = "" // none to use (made public, or confidential again and not rotated since)
	}
	return v
}

// nonNil makes empty lists [] rather than null in JSON.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// clientBody is the body of POST and PATCH /clients: a member that is
// absent (or null) leaves the field as it is, or at its default on create.
type clientBody struct {
	Name                 *string   `json:"name"`
	Scopes               *[]string `json:"scopes"`
	DefaultScopes        *[]string `json:"default_scopes"`
	AuthMethod           *string   `json:"auth_method"`
	TokenLifetimeMinutes *int      `json:"token_lifetime_minutes"`
	MaxMinutesPerDay     *int      `json:"max_minutes_per_day"`
	RedirectURIs         *[]string `json:"redirect_uris"`
	TenantID             *string   `json:"tenant_id"`
	// "" clears it.
	ConnectAsUserID    *string `json:"connect_as_user_id"`
	AllowImpersonation *bool   `json:"allow_impersonation"`
	AllowUserTokens    *bool   `json:"allow_user_tokens"`
	// implicit_grant predates grant_types: false takes the implicit grant
	// away whatever grant_types lists; true needs grant_types to allow it.
	ImplicitGrant *bool `json:"implicit_grant"`
	// The grant types the client may use (store.GrantTypeNames); [] for
	// every one its kind allows.
	GrantTypes *[]string `json:"grant_types"`
	// A public client (token_endpoint_auth_method none) has no usable
	// secret; only auth_method user clients can be public.
	Public *bool `json:"public"`
}

func (h *Handler) listClients(w http.ResponseWriter, r *http.Request, c *caller) error {
	return writeTenantList(w, r, c, func(ctx context.Context, tenant string, p store.Page) ([]store.Client, int64, error) {
		return h.app.Store().ListClients(ctx, store.ClientFilter{TenantID: tenant, Page: p})
	}, viewClient)
}

func (h *Handler) createClient(w http.ResponseWriter, r *http.Request, c *caller) error {
	cl, err := h.newClient(w, r, c)
	if err != nil {
		return err
	}
	plain, err := h.insertClient(r.Context(), c, cl)
	if err != nil {
		return clientConflict(err, cl)
	}
	writeCreatedClient(w, cl, plain, "clients/")
	return nil
}

// checkNewClient validates a POST /clients body as createClient does and
// stores nothing (204): the console's form asks it when a field of its own
// could not be read, so one round trip shows every mistake and nothing is
// made from a form the page refuses.
func (h *Handler) checkNewClient(w http.ResponseWriter, r *http.Request, c *caller) error {
	if _, err := h.newClient(w, r, c); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ensureClient is createClient for a client a feature needs by name (as
// Nitro Studio's default client "studio", made the first time it is
// needed): when the target tenant has a client of that name it answers 200
// with it as it is (secret masked, the body's other settings not applied),
// else it creates it and answers 201 with the secret.
func (h *Handler) ensureClient(w http.ResponseWriter, r *http.Request, c *caller) error {
	cl, err := h.newClient(w, r, c)
	if err != nil {
		return err
	}
	for range 2 { // a concurrent ensure may create it between the look-up and the insert
		existing, err := h.app.Store().FindClientByName(r.Context(), cl.TenantID, cl.Name)
		if err == nil {
			writeJSON(w, http.StatusOK, viewClient(existing))
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		plain, err := h.insertClient(r.Context(), c, cl)
		if err == nil {
			writeCreatedClient(w, cl, plain, "")
			return nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return clientConflict(store.ErrConflict, cl)
}

// newClient reads and validates the body of POST /clients into a client
// that is not stored yet.
func (h *Handler) newClient(w http.ResponseWriter, r *http.Request, c *caller) (*store.Client, error) {
	if err := refuseDelegated(c); err != nil {
		return nil, err
	}
	var b clientBody
	if err := decodeBody(w, r, &b, false); err != nil {
		return nil, err
	}
	cl := &store.Client{
		ID: app.NewClientID(), TenantID: c.tenant, AuthMethod: store.AuthAPIKey, OwnerID: c.principal,
		CreatorUserID: c.adminUser, RedirectURIs: store.Strings{},
	}
	if err := h.applyClient(r.Context(), c, cl, &b, true); err != nil {
		return nil, err
	}
	return cl, nil
}

// insertClient gives cl a secret, unless it is public, and stores it; it
// returns the plaintext ("" for a public client, which has none).
func (h *Handler) insertClient(ctx context.Context, c *caller, cl *store.Client) (string, error) {
	plain := ""
	if !cl.Public {
		var digest string
		var ciphertext []byte
		var err error
		if plain, digest, ciphertext, err = h.app.NewSecret(cl.ID); err != nil {
			return "", err
		}
		cl.SecretDigest, cl.SecretCiphertext = digest, ciphertext
	}
	return plain, h.app.Store().CreateClient(ctx, cl, c.actor(cl.TenantID))
}

// writeCreatedClient answers 201 with the new client and its secret, shown
// this once; base is the Location's path from the request to /clients/.
func writeCreatedClient(w http.ResponseWriter, cl *store.Client, plain, base string) {
	v := viewClient(cl)
	// "" for a public client: it has no secret to use (the token endpoint
	// refuses one), and handing one out would invite an app that cannot
	// keep it to ship it. Made confidential later, it gets one by rotation.
	v.ClientSecret = plain
	w.Header().Set("Location", base+url.PathEscape(cl.ID))
	setETag(w, cl.UpdatedAt)
	writeJSON(w, http.StatusCreated, v)
}

func (h *Handler) getClient(w http.ResponseWriter, r *http.Request, c *caller) error {
	cl, err := h.loadClient(r, c)
	if err != nil {
		return err
	}
	if done, err := notModified(w, r, "client", cl.UpdatedAt); done || err != nil {
		return err
	}
	setETag(w, cl.UpdatedAt)
	writeJSON(w, http.StatusOK, viewClient(cl))
	return nil
}

func (h *Handler) patchClient(w http.ResponseWriter, r *http.Request, c *caller) error {
	cl, err := h.manageableClient(r, c)
	if err != nil {
		return err
	}
	if err := precondition(r, "client", cl.UpdatedAt); err != nil {
		return err
	}
	var b clientBody
	var sent bytes.Buffer
	if r.Body != nil {
		r.Body = io.NopCloser(io.TeeReader(r.Body, &sent))
	}
	if err := decodeBody(w, r, &b, false); err != nil {
		return err
	}
	if b.ConnectAsUserID == nil && memberIsNull(sent.Bytes(), "connect_as_user_id") {
		// The client's view shows null for no user: sent back, it clears
		// the user as "" does, rather than leaving it as null does
		// elsewhere (kept).
		none := ""
		b.ConnectAsUserID = &none
	}
	err = applyUntilSaved("client", conditional(r),
		func() error {
			tenantBefore := cl.TenantID
			if err := h.applyClient(r.Context(), c, cl, &b, false); err != nil {
				return err
			}
			return h.app.Store().UpdateClientSettingsIfUnchanged(r.Context(), cl, tenantBefore, c.actor(cl.TenantID))
		},
		func() (err error) { cl, err = h.manageableClient(r, c); return err })
	if err != nil {
		return clientConflict(err, cl)
	}
	return h.writeClient(w, r, cl.ID)
}

// maxEditAttempts bounds how often an edit is applied again because the
// row changed under it; each attempt loses only to an edit that was saved.
const maxEditAttempts = 8

// applyUntilSaved runs applyAndSave, which applies an edit to the row as
// read (with its checks) and saves it only if nobody saved the row
// meanwhile (store.ErrStale otherwise). On ErrStale it re-reads the row
// with reload and applies the edit again to what the other edit saved, so
// concurrent edits all take effect; after maxEditAttempts it gives up
// with 409. An edit of a named version (conditional) is not applied to
// another: 412.
func applyUntilSaved(what string, conditional bool, applyAndSave, reload func() error) error {
	for attempt := 1; ; attempt++ {
		err := applyAndSave()
		if !errors.Is(err, store.ErrStale) {
			return err
		}
		if conditional {
			return changedSince(what)
		}
		if attempt == maxEditAttempts {
			return newProblem(http.StatusConflict, "the %s kept changing while this edit was applied; send it again", what)
		}
		if err := reload(); err != nil {
			return err
		}
	}
}

func (h *Handler) deleteClient(w http.ResponseWriter, r *http.Request, c *caller) error {
	cl, err := h.manageableClient(r, c)
	if err != nil {
		return err
	}
	if cl.ID == c.claims.ClientID {
		return newProblem(http.StatusConflict, "a client cannot delete itself; use another admin client's token")
	}
	actor, err := clientAction(r, c, cl)
	if err != nil {
		return err
	}
	if err := h.app.Store().DeleteClient(r.Context(), cl.ID, actor); err != nil {
		return stale(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) disableClient(w http.ResponseWriter, r *http.Request, c *caller) error {
	return h.setDisabled(w, r, c, true)
}

func (h *Handler) restoreClient(w http.ResponseWriter, r *http.Request, c *caller) error {
	return h.setDisabled(w, r, c, false)
}

func (h *Handler) setDisabled(w http.ResponseWriter, r *http.Request, c *caller, disabled bool) error {
	cl, err := h.manageableClient(r, c)
	if err != nil {
		return err
	}
	if disabled && cl.ID == c.claims.ClientID {
		return newProblem(http.StatusConflict, "a client cannot disable itself; use another admin client's token")
	}
	actor, err := clientAction(r, c, cl)
	if err != nil {
		return err
	}
	if err := h.app.Store().SetClientDisabled(r.Context(), cl.ID, disabled, actor); err != nil {
		return stale(err)
	}
	return h.writeClient(w, r, cl.ID)
}

// revokeClientTokens ends every token the client holds (access tokens
// minted until now, by generation, and its refresh tokens) and leaves it active: what to do
// when its tokens leaked. A disable, and a restore later, would bring the
// same tokens back; rotating the secret leaves them working.
func (h *Handler) revokeClientTokens(w http.ResponseWriter, r *http.Request, c *caller) error {
	cl, err := h.manageableClient(r, c)
	if err != nil {
		return err
	}
	if cl.ID == c.claims.ClientID {
		return newProblem(http.StatusConflict, "a client cannot end its own tokens; use another admin client's token")
	}
	actor, err := clientAction(r, c, cl)
	if err != nil {
		return err
	}
	if _, err := h.app.Store().RevokeClientTokens(r.Context(), cl.ID, actor); err != nil {
		return stale(err)
	}
	return h.writeClient(w, r, cl.ID)
}

// loadClient returns the client named in the path, as 404 when the caller
// may not see it.
func (h *Handler) loadClient(r *http.Request, c *caller) (*store.Client, error) {
	id := r.PathValue("id")
	if !validID(id) {
		return nil, notFound("client")
	}
	cl, err := h.app.Store().GetClient(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !c.sees(cl.TenantID)) {
		return nil, notFound("client")
	}
	return cl, err
}

// manageableClient is loadClient for changes and for reading the secret: a
// caller may touch only a client whose admin scopes it could have granted
// (module/power). So a tenant admin may not touch a client that holds
// scopegate.admin even in its own tenant, even one it created before the
// scope was granted: its secret (read or rotated) would hand the tenant
// admin every tenant.
func (h *Handler) manageableClient(r *http.Request, c *caller) (*store.Client, error) {
	cl, err := h.loadClient(r, c)
	if err != nil {
		return nil, err
	}
	need, err := h.clientNeeds(r.Context(), cl)
	if err != nil {
		return nil, err
	}
	if !c.covers(need) {
		return nil, cannotManage(need, cl.TenantID)
	}
	return cl, nil
}

// clientNeeds is the power a caller must hold to give cl its scopes and its
// way of acting as users, or to manage it (change it, read or rotate its
// secret): its admin scopes' (power.Needed), and the power of the users its
// tokens may speak for. A client connecting as one user needs that user's
// power; one that may name any user at token time (allow_impersonation,
// allow_user_tokens) needs power.OverUsersOf its tenant, a super admin's in
// the default tenant. Otherwise a tenant admin of the default tenant, which
// may not touch a super admin user, could act as one through a client.
func (h *Handler) clientNeeds(ctx context.Context, cl *store.Client) (power.Power, error) {
	need := power.Needed(h.app.Catalogue(), cl.AllowedScopes, cl.TenantID)
	switch {
	case cl.AllowImpersonation || cl.AllowUserTokens:
		need = power.Max(need, power.OverUsersOf(cl.TenantID))
	case cl.ConnectAsUserID != nil:
		as, err := h.connectAsPower(ctx, cl)
		if err != nil {
			return need, err
		}
		need = power.Max(need, as)
	}
	return need, nil
}

// connectAsPower is the admin power of the user cl connects as, as it is
// now: what its tokens speak with.
func (h *Handler) connectAsPower(ctx context.Context, cl *store.Client) (power.Power, error) {
	if cl.ConnectAsUserID == nil || !validID(*cl.ConnectAsUserID) {
		return power.Nothing, nil
	}
	u, err := h.app.Store().GetUser(ctx, *cl.ConnectAsUserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// checkConnectAs names it; a user that is gone speaks for no one.
	case err != nil:
		return power.Nothing, err
	case u.TenantID == cl.TenantID:
		return power.OfUser(u), nil
	}
	return power.Nothing, nil
}

// cannotManage refuses a change to a client that needs more power than the
// caller holds.
func cannotManage(need power.Power, tenantID string) error {
	if need.Level == power.Super {
		return forbidden("only a super admin may change this client or read its secret: it holds %s, or its tokens may speak for a super admin (it connects as one, or may name any user of the default tenant)", scope.Admin)
	}
	return forbidden("only an admin of tenant %q may change this client or read its secret", tenantID)
}

// writeClient answers with the client as the database now has it.
func (h *Handler) writeClient(w http.ResponseWriter, r *http.Request, id string) error {
	cl, err := h.app.Store().GetClient(r.Context(), id)
	if err != nil {
		return err
	}
	setETag(w, cl.UpdatedAt)
	writeJSON(w, http.StatusOK, viewClient(cl))
	return nil
}

// clientConflict words a duplicate name.
func clientConflict(err error, cl *store.Client) error {
	if errors.Is(err, store.ErrConflict) {
		return newProblem(http.StatusConflict, "tenant %q already has a client named %q", cl.TenantID, cl.Name)
	}
	return err
}
