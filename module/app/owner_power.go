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
	// Read through the runtime's caches: this runs on requests.
	if g.Lineage, err = store.LineageOf(ctx, oc, store.OwnerLookup{User: rt.User, Client: rt.Client}); err != nil {
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
