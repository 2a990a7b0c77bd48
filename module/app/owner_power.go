package app

import (
	"context"

	"github.com/scopegate/scopegate/module/power"
	"github.com/scopegate/scopegate/module/store"
)

// CLIPrincipal owns what the command line (caddy scopegate) creates: the
// operator, with every power.
const CLIPrincipal = "cli"

// OwnerPower is the admin power, now, of the principal that owns client c
// (store.Client.OwnerID: whoever created it, the one who may read its
// secret). The command line's and bootstrap's (a client that owns itself)
// is a super admin's; a user's is its own while it is active; a client's
// is what its 2-legged tokens carry at the admin API (its admin scopes,
// capped by the power of the user whose power created it); a principal
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
	g := power.Grounds{Scopes: oc.AllowedScopes, TenantID: oc.TenantID, Client: oc, CreatorID: oc.CreatorUserID}
	if g.CreatorID != "" {
		if g.Creator, err = rt.User(ctx, g.CreatorID); err != nil {
			return power.Nothing, err
		}
	}
	p, err := power.Of(a.Catalogue(), g)
	if err != nil {
		return power.Nothing, nil // power.Of's errors say why there is none
	}
	return p, nil
}

// ConnectAsHolds reports whether client c, which connects as u, still
// speaks for u (power.ConnectAsHolds), reading its owner's power only when
// u is a super admin.
func (a *App) ConnectAsHolds(ctx context.Context, c *store.Client, u *store.User) (bool, error) {
	if !u.IsSuperAdmin() || c.OwnerID == u.ID {
		return true, nil
	}
	owner, err := a.OwnerPower(ctx, c)
	if err != nil {
		return false, err
	}
	return power.ConnectAsHolds(c, u, owner), nil
}
