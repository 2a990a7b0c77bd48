package admin

import (
	"net/http"
	"strings"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/guard"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/power"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

// authenticate verifies the bearer token and the admin power it carries
// (authority.go), answering the request itself when they fail.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (*caller, bool) {
	raw, oerr := bearerToken(r)
	if oerr != nil {
		oauth.WriteBearer(w, oerr, realm)
		return nil, false
	}
	claims, err := h.app.Verify(r.Context(), raw)
	if err != nil {
		if app.IsTokenError(err) {
			oauth.WriteBearer(w, oauth.New(oauth.InvalidToken, http.StatusUnauthorized, "%s", err.Error()), realm)
		} else {
			h.internal(w, r, err)
		}
		return nil, false
	}
	c, oerr, err := h.authority(r.Context(), claims)
	switch {
	case err != nil:
		h.internal(w, r, err)
		return nil, false
	case oerr != nil:
		oauth.WriteBearer(w, oerr, realm)
		return nil, false
	}
	// Checked once the token is known good (a bad one stays 401, so its
	// client refreshes). The API acts as the token's own client or user:
	// served, a caller asking to act as a user (itself, or through a guard
	// in front that honoured the header) would change things as itself
	// without being told.
	if name := guard.ImpersonationSent(r, h.app); name != "" || guard.Impersonated(r) {
		if name == "" {
			name = "a guard's impersonation header"
		}
		oauth.WriteBearer(w, oauth.New(oauth.InsufficientScope, http.StatusForbidden,
			"impersonation (%s) is not honoured by the admin API: it acts as the token's own client or user", name), realm)
		return nil, false
	}
	c.remote = clientIP(r)
	return c, true
}

// bearerToken reads the one RFC 6750 §2.1 Authorization header, as the
// guard does. A repeated header is refused rather than one of them picked: a
// proxy on the way may pick the other one, and the two would then disagree
// on who is calling.
func bearerToken(r *http.Request) (string, *oauth.Error) {
	return guard.Bearer(guard.CallerAuthorization(r)) // a guard in front keeps it out of r.Header
}

// caller is who makes an admin request, as its verified token or console
// session says; callerFor (authority.go) is the only place one is made.
type caller struct {
	claims    *token.Claims
	principal string // app.Principal: owner of what it creates
	user      string // the admin user it is (console session, user-bound token); "" for a client alone
	// adminUser is the admin user whose power the caller uses: user, or the
	// user who handed the token's client its admin power; "" for none. The
	// audit log names it, and clients the caller makes record it
	// (store.Client.CreatorUserID), so their power ends with that user's.
	adminUser string
	// delegated marks a user-bound token of an app another admin set up
	// (authority.go: delegated): it makes no credentials and reads no
	// secrets.
	delegated bool
	via       string      // what the principal came through, for the audit log (store.Actor.Via)
	power     power.Power // module/power: what the caller may do and hand out
	super     bool        // power is super admin: every tenant
	tenant    string      // the token's (or session user's) tenant; a tenant admin is confined to it
	remote    string      // client IP for the audit log
}

type callerKey struct{}

// sees reports whether the caller may see and manage things of tenantID.
func (c *caller) sees(tenantID string) bool { return c.super || tenantID == c.tenant }

// covers reports whether the caller holds at least p, so it may hand p out
// or manage what holds it (module/power).
func (c *caller) covers(p power.Power) bool { return c.power.Covers(p) }

// actor names the caller in the audit row of a change to tenantID: the
// admin user behind it when there is one (with the client in via), else
// its principal.
func (c *caller) actor(tenantID string) store.Actor {
	who := c.principal
	if c.adminUser != "" {
		who = c.adminUser
	}
	return store.Actor{Principal: who, TenantID: tenantID, RemoteAddr: c.remote, Via: c.via, Super: c.super}
}

// maxVia is the size of the audit log's via column.
const maxVia = 200

// via names the client a token was issued to and, when the token acts for
// its subject on someone else's behalf, that actor: the principal alone
// would let a client that speaks for a user pass as the user.
func via(c *token.Claims) string {
	v := c.ClientID
	if c.Act != nil {
		actor := c.Act.ClientID
		if actor == "" {
			actor = c.Act.Subject
		}
		v += " act " + actor
	}
	if len(v) > maxVia {
		// Signed claims, but of any length: cut on a rune boundary, as
		// PostgreSQL refuses invalid UTF-8.
		v = strings.ToValidUTF8(v[:maxVia], "")
	}
	return v
}
