package app

import (
	"context"

	"github.com/scopegate/scopegate/module/power"
	"github.com/scopegate/scopegate/module/store"
)

// CLIPrincipal owns what the command line (caddy scopegate) creates: the
// operator, with every power.
const CLIPrincipal = store.CLIPrincipal

// OwnerPower is the admin power, now, of the principal that owns client c
// (store.Client.OwnerID: whoever created it, the one who may read its
// secret). The command line's and bootstrap's (a client that owns itself)
// is a super admin's; a user's is its own while it is active; a client's
// is what its 2-legged tokens carry at the admin API (its admin scopes,
// capped by the power of the user whose power created it and of the
// clients whose tokens made it); a principal
// that is gone has none.
func (a *App) OwnerPower(ctx context.Context, c *store.Client) (power.Power, error) {
	rt := a.runtime()
	if rt == nil {
		return power.Nothing, store.ErrNotOpen
	}
	owner := c.OwnerID
	if owner == CLIPrincipal || owner == c.ID {
		return power.SuperAdmin, nil
	}
	u, err := rt.User(ctx, owner)
	if err != nil || u != nil {
		return power.Active(u), err
	}
	oc, err := rt.Client(ctx, owner)
	if err != nil || oc == nil {
		return power.Nothing, err
	}
	g := power.Grounds{Scopes: oc.AllowedScopes, TenantID: oc.TenantID, Client: oc}
	if g.CreatorID, g.Creator, err = creatorOf(ctx, rt, oc); err != nil {
		return power.Nothing, err
	}
	if g.Owners, g.OwnersBroken, err = store.OwnerClients(ctx, oc, store.OwnerLookup{User: rt.User, Client: rt.Client}); err != nil {
		return power.Nothing, err
	}
	p, err := power.Of(a.Catalogue(), g)
	if err != nil {
		return power.Nothing, nil // power.Of's errors say why there is none
	}
	return p, nil
}

// SpeaksFor reports whether client c's tokens may speak for user u
// (power.MaySpeakFor), reading the power of c's owner only when u is a
// super admin.
func (a *App) SpeaksFor(ctx context.Context, c *store.Client, u *store.User) (bool, error) {
	if !u.IsSuperAdmin() || c.OwnerID == u.ID {
		return true, nil
	}
	owner, err := a.OwnerPower(ctx, c)
	if err != nil {
		return false, err
	}
	return power.MaySpeakFor(c, u, owner), nil
}

// maxOwnerHops bounds the walk up a chain of clients that made clients,
// as store.ClientCreator's does.
const maxOwnerHops = 8

// creatorOf is store.ClientCreator read through the runtime's caches (it
// runs on requests): the user whose power created c, CreatorUserID when
// set, else, for rows from before that column, the first user up the
// chain of owners; "" when no user is behind c (bootstrap and what its
// clients make, a chain ending at a client deleted since or longer than a
// few hops).
func creatorOf(ctx context.Context, rt *Runtime, c *store.Client) (string, *store.User, error) {
	for range maxOwnerHops {
		if c.CreatorUserID != "" {
			u, err := rt.User(ctx, c.CreatorUserID)
			return c.CreatorUserID, u, err
		}
		if c.OwnerID == "" || c.OwnerID == c.ID || c.OwnerID == CLIPrincipal {
			return "", nil, nil
		}
		u, err := rt.User(ctx, c.OwnerID)
		if err != nil || u != nil {
			return c.OwnerID, u, err
		}
		next, err := rt.Client(ctx, c.OwnerID)
		if err != nil || next == nil {
			return "", nil, err
		}
		c = next
	}
	return "", nil, nil
}
