package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

// authority decides what admin power a verified token carries. A 2-legged
// token speaks for its client, so the client's admin scope is the whole
// story. A user-bound (3-legged) token speaks for its user, and the scopes
// some client was given say nothing about who that user is: such a token
// gets no more than the user has, exactly as a console session (load in
// console.go): the user must exist, be active and be an admin of the
// token's tenant, and only an admin of the default tenant holding a
// scopegate.admin token is a super admin; any other admin is confined to
// its own tenant. Without this, any user reachable through a client with an
// admin scope (connect-as, user_id tokens, the authorize flow) would be an
// admin, and the principal of every action would be whoever the client
// names.
//
// It returns a protocol error for a token that carries no admin power and
// a plain error when the check itself failed.
func (h *Handler) authority(ctx context.Context, claims *token.Claims) (*caller, *oauth.Error, error) {
	cat := h.app.Catalogue()
	granted := claims.Scopes()
	super := cat.Satisfies(granted, scope.Admin)
	// A tenant admin token naming no tenant could be confined to nothing,
	// so it is refused like no admin scope.
	if !super && (!cat.Satisfies(granted, scope.TenantAdmin) || claims.Tenant == "") {
		e := oauth.New(oauth.InsufficientScope, http.StatusForbidden, "the token needs scopegate.admin or scopegate.tenant_admin")
		e.Scope = scope.Admin + " " + scope.TenantAdmin
		return nil, e, nil
	}
	c := &caller{claims: claims, principal: app.Principal(claims), via: via(claims), tenant: claims.Tenant}
	if claims.Legs == 3 {
		u, oerr, err := h.tokenAdmin(ctx, claims)
		if oerr != nil || err != nil {
			return nil, oerr, err
		}
		c.user = u.ID
		super = super && u.TenantID == store.DefaultTenantID
	}
	c.super = super
	if super && c.tenant == "" {
		c.tenant = store.DefaultTenantID
	}
	return c, nil, nil
}

// tokenAdmin returns the user a user-bound token is bound to, if that user
// is an active admin of the token's tenant and the token's client may carry
// a user's admin authority. It reads the database rather
// than the runtime's cache, so an admin flag removed a moment ago (on any
// node) counts at once; the admin API is no hot path.
func (h *Handler) tokenAdmin(ctx context.Context, claims *token.Claims) (*store.User, *oauth.Error, error) {
	var u *store.User
	if validID(claims.Subject) {
		var err error
		u, err = h.app.Store().GetUser(ctx, claims.Subject)
		if errors.Is(err, store.ErrNotFound) {
			u = nil
		} else if err != nil {
			return nil, nil, err
		}
	}
	if u == nil || u.Disabled || !u.Admin || u.TenantID != claims.Tenant {
		return nil, oauth.New(oauth.InsufficientScope, http.StatusForbidden,
			"the token is bound to a user who is not an active admin of its tenant; a user's token has no more admin power than the user"), nil
	}
	// The client that carries the token must keep to the admin-client
	// rules (admin_clients.go), which the API enforces on every write:
	// this catches clients stored before them.
	cl, err := h.app.Runtime().Client(ctx, claims.ClientID)
	if err != nil {
		return nil, nil, err
	}
	if cl == nil || breaksAdminClientRules(cl) {
		return nil, oauth.New(oauth.InsufficientScope, http.StatusForbidden,
			"the token's client connects as another user, takes user_id or acts on behalf of users, so its user-bound tokens carry no admin power"), nil
	}
	return u, nil, nil
}
