package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/power"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

// authority decides what admin power a verified token carries, by the rules
// of module/power, on what the database says now (the admin API is no hot
// path, so a flag changed a moment ago on any node counts at once): the
// token's scopes and its client's current scopes in its tenant; for a
// user-bound (3-legged) token, no more than its user, exactly as a console
// session (callerFor); and no more than the admin user who handed its
// client admin power (store.LineageOf), so an API key an admin made
// loses its power when the admin is demoted or disabled.
//
// It returns a protocol error for a token that carries no admin power and
// a plain error when the check itself failed.
func (h *Handler) authority(ctx context.Context, claims *token.Claims) (*caller, *oauth.Error, error) {
	g := power.Grounds{Scopes: claims.Scopes(), TenantID: claims.Tenant}
	// Without an admin scope nothing else matters: no look-ups.
	if power.Granted(h.app.Catalogue(), g.Scopes, g.TenantID).Level == power.None {
		return nil, refusal(power.ErrNoAdminScope), nil
	}
	cl, err := h.app.Store().GetClient(ctx, claims.ClientID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, nil, err
	}
	if err == nil {
		g.Client = cl
		if g.Lineage, err = store.LineageOf(ctx, cl, h.app.Store().DBOwnerLookup()); err != nil {
			return nil, nil, err
		}
	}
	if claims.Legs == 3 {
		u, err := h.tokenUser(ctx, claims)
		if err != nil {
			return nil, nil, err
		}
		if u == nil {
			return nil, refusal(power.ErrUser), nil
		}
		g.User = u
		// The client that carries the token must keep to the admin-client
		// rules (admin_clients.go), which the API enforces on every write:
		// this catches clients stored before them.
		if cl != nil && breaksAdminClientRules(cl) {
			return nil, oauth.New(oauth.InsufficientScope, http.StatusForbidden,
				"the token's client connects as another user, takes user_id or acts on behalf of users, so its user-bound tokens carry no admin power"), nil
		}
	}
	c, oerr := h.callerFor(g, claims)
	return c, oerr, nil
}

// callerFor builds the caller from what its power rests on: the one place
// the API's tokens, the console's sessions and the command line (claims
// nil) become callers, so a console session has exactly the power the API
// gives its user.
func (h *Handler) callerFor(g power.Grounds, claims *token.Claims) (*caller, *oauth.Error) {
	p, err := power.Of(h.app.Catalogue(), g)
	if err != nil {
		return nil, refusal(err)
	}
	c := &caller{power: p, super: p.Level == power.Super, tenant: g.TenantID, adminUser: g.CreatorID}
	if g.User != nil {
		c.user, c.adminUser = g.User.ID, g.User.ID
	}
	switch {
	case claims != nil && delegated(h.app.Catalogue(), g):
		// The user consented to an app another admin set up: whoever
		// serves the app's redirect URI (its maker) may hold the token,
		// public client or not. It acts for the user within both their
		// powers, but as the app: it holds no owner's rights of the
		// user's (reading or rotating the secrets of the user's clients)
		// and makes no credentials (refuseDelegated), which would be the
		// user's, or pooled among all of the app's users, while their
		// secrets went to the maker. The audit log still names the user,
		// through the app.
		c.claims, c.principal, c.via = claims, claims.ClientID, via(claims)
		c.user, c.delegated = "", true
	case claims != nil:
		c.claims, c.principal, c.via = claims, app.Principal(claims), via(claims)
	case g.Local:
		c.claims, c.principal, c.via, c.tenant, c.remote = &token.Claims{}, cliPrincipal, cliVia, store.DefaultTenantID, "local"
	default:
		c.claims, c.principal, c.via, c.tenant = &token.Claims{}, g.User.ID, consoleVia, g.User.TenantID
	}
	return c, nil
}

// delegated reports whether a user-bound token belongs to a client made by
// someone other than the token's user, who serves the client's redirect URI
// and so may hold the token: a super admin approving a tenant admin's app
// on the consent screen, say. Only an admin's own apps and the operator's
// (operatorMade) act as the user; an app made with an API key is
// delegated too, the key's holder being someone other than the user (a
// tenant admin's key made with the bootstrap client's token has no admin
// user behind it, and its app read the approving super admin's secrets:
// tenancy red team). An app the user's own key made is delegated as well,
// though the user's power made it (CreatorID): the key's holder serves it
// (a red team approved, as the admin who made the key, an app the key made,
// and its token read and rotated that admin's secrets).
func delegated(cat *scope.Catalogue, g power.Grounds) bool {
	if g.User == nil || g.Session || g.Client == nil {
		return false
	}
	if g.Client.OwnerID == g.User.ID {
		return false // made by the user: in its console, or with its own token
	}
	if g.CreatorID != "" {
		return true // another user made it, or a key or app did
	}
	return !operatorMade(cat, g)
}

// operatorMade reports whether a client with no admin user behind it was
// made by the operator: at the command line (it owns itself or names the
// command line as owner), or with the token of a super-admin client the
// operator made there (the bootstrap client). Whoever holds those holds
// every tenant already.
func operatorMade(cat *scope.Catalogue, g power.Grounds) bool {
	switch {
	case g.Broken:
		return false
	case len(g.Owners) == 0:
		return true
	case len(g.Owners) == 1:
		o := g.Owners[0]
		root := o.OwnerID == "" || o.OwnerID == o.ID || o.OwnerID == store.CLIPrincipal
		return root && power.Granted(cat, o.AllowedScopes, o.TenantID).Level == power.Super
	}
	return false
}

// refuseDelegated is the answer to a delegated caller (see delegated) asking
// to create credentials (clients, apps, tenant pairs) or read or rotate a
// secret, nil for any other caller.
func refuseDelegated(c *caller) error {
	if !c.delegated {
		return nil
	}
	return forbidden("a token of an app another admin set up may not create credentials or read or rotate secrets for its user: use the console, or a client of your own")
}

// refusal is the bearer challenge for a token without admin power.
func refusal(err error) *oauth.Error {
	e := oauth.New(oauth.InsufficientScope, http.StatusForbidden, "%s", err.Error())
	if errors.Is(err, power.ErrNoAdminScope) {
		e.Scope = scope.Admin + " " + scope.TenantAdmin
	}
	return e
}

// tokenUser returns the user a user-bound token is bound to, nil when there
// is none.
func (h *Handler) tokenUser(ctx context.Context, claims *token.Claims) (*store.User, error) {
	if !validID(claims.Subject) {
		return nil, nil
	}
	u, err := h.app.Store().GetUser(ctx, claims.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return u, err
}
