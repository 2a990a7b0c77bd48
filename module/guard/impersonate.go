package guard

import (
	"context"
	"errors"
	"net/http"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

// impersonate lets a client with the "perform actions on behalf of users"
// permission act as another active user of its own tenant (RFC 8693 act
// semantics: the user becomes the subject, the client the actor).
func (g *Guard) impersonate(ctx context.Context, id *Identity, as string) *oauth.Error {
	forbid := func(format string, args ...any) *oauth.Error {
		return oauth.New(oauth.InsufficientScope, http.StatusForbidden, format, args...)
	}
	c := id.Claims
	client, err := g.app.Runtime().Client(ctx, c.ClientID)
	if err != nil {
		return g.failure(ctx, "loading client for impersonation", err)
	}
	if client == nil || client.AuthMethod != store.AuthAPIKey || !client.AllowImpersonation {
		return forbid("this client is not allowed to perform actions on behalf of users")
	}
	if c.Act != nil {
		return forbid("a token that already acts for someone cannot impersonate again")
	}
	if c.Legs == 3 && !c.ConnectAs {
		// A user-bound token that is not the client's own (a user's
		// sign-in, a token naming a user) speaks for that user only.
		return forbid("only the client's own tokens (2-legged, or connecting as its user) may act on behalf of users; this one is bound to a user")
	}
	// By id from the cache first; a miss, or a user of another tenant whose
	// id happens to be a local username, is looked up by id or username
	// within the client's tenant.
	target, err := g.app.Runtime().User(ctx, as)
	if err == nil && (target == nil || target.TenantID != c.Tenant) {
		target, err = g.app.Store().FindUser(ctx, c.Tenant, as)
		if errors.Is(err, store.ErrNotFound) {
			target, err = nil, nil
		}
	}
	if err != nil {
		return g.failure(ctx, "loading impersonated user", err)
	}
	// A user of another tenant is reported exactly like an unknown one.
	if target == nil || target.TenantID != c.Tenant {
		return forbid("no such user in this client's tenant")
	}
	if target.Disabled {
		return forbid("the user to act as is disabled")
	}
	// Acting as a super admin needs a client its owner could have set up
	// for that: someone may hold its secret since a super admin was
	// demoted.
	switch speaks, err := g.app.SpeaksFor(ctx, client, target); {
	case err != nil:
		return g.failure(ctx, "reading the power of the client's owner", err)
	case !speaks:
		return forbid("the user to act as is a super admin, and this client's owner is neither that user nor a super admin")
	}
	id.Actor = &token.Actor{Subject: app.Principal(c), ClientID: c.ClientID}
	id.UserID = target.ID
	return nil
}
