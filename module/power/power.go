// Package power holds Scopegate's rules of admin power, once: who is a
// super admin, who is a tenant admin, and what each may hand out. The admin
// API, its console and the scopegate bootstrap command all decide with
// these functions, so a console session, a token and the command line can
// never disagree on what a principal may do.
//
// Power is ordered: none < tenant admin (of one tenant) < super admin
// (every tenant). A super admin is
//   - a user of the default tenant with the super admin level (a console
//     session, or a user-bound token carrying scopegate.admin), or
//   - a 2-legged token whose client holds scopegate.admin in the default
//     tenant and whose creator, when a user, is still an active super admin.
//
// Every other admin is a tenant admin of its own tenant. A caller may hand
// out (create, promote, reset, re-enable) only power it covers itself.
package power

import (
	"errors"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
)

// Level is how far a principal's admin power reaches.
type Level int

// Levels, weakest first.
const (
	// None: no admin power.
	None Level = iota
	// Tenant: the admin's own tenant only.
	Tenant
	// Super: every tenant.
	Super
)

func (l Level) String() string {
	switch l {
	case Tenant:
		return "tenant admin"
	case Super:
		return "super admin"
	}
	return "none"
}

// Power is a level and, for a tenant admin, its tenant.
type Power struct {
	Level Level
	// TenantID is the tenant a tenant admin administers; "" otherwise.
	TenantID string
}

// Nothing is no admin power.
var Nothing = Power{}

// SuperAdmin is the power over every tenant.
var SuperAdmin = Power{Level: Super}

// TenantAdmin is the power over one tenant.
func TenantAdmin(tenantID string) Power {
	if tenantID == "" {
		return Nothing // confined to nothing
	}
	return Power{Level: Tenant, TenantID: tenantID}
}

// Covers reports whether a holder of p may hand out q: anything when p is
// super; a tenant admin of p's own tenant or no power at all when p is a
// tenant admin; nothing when p is none.
func (p Power) Covers(q Power) bool {
	switch {
	case p.Level == None:
		return false
	case q.Level == None, p.Level == Super:
		return true
	}
	return q.Level == Tenant && p.TenantID == q.TenantID
}

// Min is the power both a and b allow: the weaker of the two, and none for
// tenant admins of different tenants.
func Min(a, b Power) Power {
	switch {
	case a.Level == None || b.Level == None:
		return Nothing
	case a.Level == Super:
		return b
	case b.Level == Super:
		return a
	case a.TenantID == b.TenantID:
		return a
	}
	return Nothing
}

// OfUser is the power u's admin flags give it, disabled or not: what a
// change to u hands out, and so what a caller must cover to make it. The
// super admin level counts only in the default tenant.
func OfUser(u *store.User) Power {
	switch {
	case u == nil || !u.Admin:
		return Nothing
	case u.IsSuperAdmin():
		return SuperAdmin
	}
	return TenantAdmin(u.TenantID)
}

// Active is the power u has now: OfUser, or none while u is disabled.
func Active(u *store.User) Power {
	if u == nil || u.Disabled {
		return Nothing
	}
	return OfUser(u)
}

// MaySpeakFor reports whether client c's tokens may speak for user u
// (connecting as u, naming u with user_id, acting as u by impersonation),
// given owner, the power c's owner holds now. The owner may read the
// client's secret whenever it may manage the client, and whoever it gave
// the secret to holds it too, so a client speaks for a super admin only
// while its owner is that user or a super admin itself. Setting a client
// up needs the power of the users it speaks for; this holds it to that
// when users are promoted and owners demoted later: a tenant admin of the
// default tenant who connected a client as a plain user, later made a
// super admin, does not get a super admin's voice.
func MaySpeakFor(c *store.Client, u *store.User, owner Power) bool {
	return !u.IsSuperAdmin() || c.OwnerID == u.ID || owner.Level == Super
}

// ForUser is the power of a user of tenantID with the given flags, as
// OfUser would see it once stored.
func ForUser(tenantID string, admin, super bool) Power {
	return OfUser(&store.User{TenantID: tenantID, Admin: admin, SuperAdmin: super})
}

// Needed is what a caller must cover to give scopes to a client of
// tenantID (or to manage a client holding them): scopegate.admin, directly
// or implied, needs a super admin in any tenant; scopegate.tenant_admin
// needs a tenant admin of tenantID.
func Needed(cat *scope.Catalogue, scopes []string, tenantID string) Power {
	switch {
	case cat.Satisfies(scopes, scope.Admin):
		return SuperAdmin
	case cat.Satisfies(scopes, scope.TenantAdmin):
		return TenantAdmin(tenantID)
	}
	return Nothing
}

// Max is the stronger of a and b, two powers over the same tenant (or
// super): what a client needs when two of its settings each need one.
func Max(a, b Power) Power {
	if b.Level > a.Level {
		return b
	}
	return a
}

// OverUsersOf is the power a client needs to act as any user of tenantID
// it names at token time (impersonation, user tokens): a super admin's in
// the default tenant, whose users include the super admins, a tenant admin's
// elsewhere. A client acting as one fixed user needs that user's power
// (OfUser) instead.
func OverUsersOf(tenantID string) Power {
	if tenantID == store.DefaultTenantID {
		return SuperAdmin
	}
	return TenantAdmin(tenantID)
}

// IsAdminScope reports whether name is an admin scope or implies one.
func IsAdminScope(cat *scope.Catalogue, name string) bool {
	return Needed(cat, []string{name}, "-").Level != None
}

// Granted is the power scopes give a token of tenantID: super with
// scopegate.admin in the default tenant; elsewhere, and with
// scopegate.tenant_admin, a tenant admin of tenantID.
func Granted(cat *scope.Catalogue, scopes []string, tenantID string) Power {
	switch {
	case cat.Satisfies(scopes, scope.Admin) && tenantID == store.DefaultTenantID:
		return SuperAdmin
	case cat.Satisfies(scopes, scope.Admin), cat.Satisfies(scopes, scope.TenantAdmin):
		return TenantAdmin(tenantID)
	}
	return Nothing
}

// Why a caller has no admin power.
var (
	ErrNoAdminScope = errors.New("the token needs scopegate.admin or scopegate.tenant_admin")
	ErrClient       = errors.New("the token's client is gone, disabled or in another tenant")
	ErrUser         = errors.New("the token is bound to a user who is not an active admin of its tenant; a user's token has no more admin power than the user")
	ErrCreator      = errors.New("the token's client was made by an admin user who no longer holds that power (demoted, disabled or gone); admin power handed to a client ends with its creator's")
	ErrOwnerClient  = errors.New("the token's client was made with another client's token, and that client no longer holds that power (its scopes taken, disabled or gone); admin power handed to a client ends with its creator's")
)

// Grounds are the facts a caller's power rests on, as the database has
// them now (the admin API is no hot path: a flag changed a moment ago on
// any node counts at once).
type Grounds struct {
	// Session marks a console session: no token, User alone decides.
	Session bool
	// Local marks the operator at the command line (caddy scopegate): no
	// token and no user. Whoever can read the config and open its database
	// and master key holds every tenant already, so it is a super admin.
	Local bool
	// Scopes and TenantID are the token's.
	Scopes   []string
	TenantID string
	// Client is the token's client.
	Client *store.Client
	// User is the user the token is bound to (nil for a 2-legged token),
	// or the console session's user.
	User *store.User
	// Lineage is who made Client (store.LineageOf): the admin user whose
	// power it was handed out with, and the clients whose tokens made it.
	store.Lineage
}

// Of is the power a caller holds, or why it holds none. A token gets no
// more than its scopes and its client's current scopes give in its tenant,
// no more than the user it is bound to, and no more than the user who
// handed its client admin power, nor than the clients whose tokens made
// it; a console session gets its user's; the command line gets
// everything.
func Of(cat *scope.Catalogue, g Grounds) (Power, error) {
	if g.Local {
		return SuperAdmin, nil
	}
	if g.Session {
		if p := Active(g.User); p.Level != None {
			return p, nil
		}
		return Nothing, ErrUser
	}
	p := Granted(cat, g.Scopes, g.TenantID)
	if p.Level == None {
		return Nothing, ErrNoAdminScope
	}
	if g.Client == nil || g.Client.Disabled || g.Client.TenantID != g.TenantID {
		return Nothing, ErrClient
	}
	// Scopes taken away from the client take their power with them, even
	// from the tokens it already holds.
	if p = Min(p, Granted(cat, g.Client.AllowedScopes, g.TenantID)); p.Level == None {
		return Nothing, ErrNoAdminScope
	}
	if g.User != nil {
		if g.User.TenantID != g.TenantID {
			return Nothing, ErrUser
		}
		if p = Min(p, Active(g.User)); p.Level == None {
			return Nothing, ErrUser
		}
	}
	if g.CreatorID != "" {
		if p = Min(p, Active(g.Creator)); p.Level == None {
			return Nothing, ErrCreator
		}
	}
	// The clients whose tokens made this one vouch for it as its creator
	// user does: disabling one, or deleting it, ends the power it handed
	// out (the clients it made after a leak, say), and taking a scope
	// from it takes that scope's power too.
	if g.Broken {
		return Nothing, ErrOwnerClient
	}
	for _, o := range g.Owners {
		if o.Disabled {
			return Nothing, ErrOwnerClient
		}
		if p = Min(p, Granted(cat, o.AllowedScopes, o.TenantID)); p.Level == None {
			return Nothing, ErrOwnerClient
		}
	}
	return p, nil
}
