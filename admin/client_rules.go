package admin

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/power"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/web"
)

// Limits that keep edits meaningful and arithmetic safe: a lifetime beyond
// a year is a mistake, a day has 1440 minutes, and larger values would
// overflow time.Duration.
const (
	maxLifetimeMinutes = int(app.MaxClientLifetime / time.Minute) // a revocation watermark is kept that long
	maxMinutesPerDay   = 1440
	maxGraceSeconds    = 365 * 24 * 3600
	maxRedirectURI     = 2000
	// A client or app registers its callbacks, not a directory of them:
	// the authorize endpoint compares every one on each request.
	maxRedirectURIs = 100
)

// keptDefaults is what a client's default scopes (those a token request
// naming none gets) become when its scopes change to after and the change
// does not name the defaults: those still among the scopes. A scope added
// never joins them (least privilege: what a bare request gets grows only
// when an admin says so, by naming default_scopes); none left is an error
// (applyClient), not a silent switch to other scopes. An admin who narrows
// a client's scopes need not restate defaults the API filled in.
func keptDefaults(defaults, after store.Strings) store.Strings {
	kept := store.Strings{}
	for _, s := range defaults {
		if after.Contains(s) {
			kept = append(kept, s)
		}
	}
	return kept
}

// mayRetarget reports whether c may change where cl's tokens go or whom
// they speak for: as for reading its secret (mayRotate), its creator or a
// super admin, never a delegated token.
func mayRetarget(c *caller, cl *store.Client) bool { return !c.delegated && mayRotate(c, cl.OwnerID) }

var errRetarget = forbidden("only the admin who created this client (the same user, key or console session) or a super admin " +
	"may change where its tokens go or whom they speak for (add a redirect URI or a grant, make it public, change auth_method " +
	"or connect_as_user_id): whoever does would receive the tokens of the users who approved it, or make its creator's " +
	"automation act as someone else")

// applyClient merges b into cl and validates the result. On create every
// field counts as given; on PATCH the lookups (catalogue, tenant, user) are
// made only for what changes, so a later catalogue or user change does not
// block unrelated edits, while the rules that tie fields together are
// always checked.
func (h *Handler) applyClient(ctx context.Context, c *caller, cl *store.Client, b *clientBody, creating bool) error {
	// Whether the change touches what ties an API key to a user
	// (require_connect_as): narrowing a stored key's scopes, or sending its
	// auth method unchanged, does not.
	tie := creating || b.ConnectAsUserID != nil || b.TenantID != nil ||
		(b.AuthMethod != nil && *b.AuthMethod != cl.AuthMethod) ||
		(b.Scopes != nil && addsScope(cl.AllowedScopes, *b.Scopes))
	heldAdmin := !creating && h.holdsAdminScope(cl.AllowedScopes)
	before := *cl // the settings as stored (applied fields get new slices)
	if b.Name != nil {
		cl.Name = strings.TrimSpace(*b.Name)
	}
	// Whether a scopes-only change left the client no default scope it
	// had: refused below, naming default_scopes.
	defaultsLost, defaultsWereAll := false, false
	if b.Scopes != nil {
		cl.AllowedScopes = dedupe(*b.Scopes)
		if b.DefaultScopes == nil && !creating {
			// Stored defaults that are empty stand for all the scopes the
			// client held (the issuer reads them so): those are the
			// defaults to keep, or a scope added would join them. A client
			// that held none (an app's pair an app narrowing emptied) gets
			// the new scopes as its defaults, as a client created with them.
			had := cl.DefaultScopes
			if len(had) == 0 {
				had, defaultsWereAll = before.AllowedScopes, true
			}
			cl.DefaultScopes = keptDefaults(had, cl.AllowedScopes)
			if len(had) == 0 {
				cl.DefaultScopes = append(store.Strings{}, cl.AllowedScopes...)
			}
			defaultsLost = len(had) > 0 && len(cl.DefaultScopes) == 0
		}
	}
	if b.DefaultScopes != nil {
		cl.DefaultScopes = dedupe(*b.DefaultScopes)
		if len(cl.DefaultScopes) == 0 {
			// [] asks for all the client's scopes: those it has now, written
			// out, since a stored empty list (the issuer's fallback) would
			// also hand a bare request every scope added later.
			cl.DefaultScopes = append(store.Strings{}, cl.AllowedScopes...)
		}
	} else if creating {
		cl.DefaultScopes = append(store.Strings{}, cl.AllowedScopes...)
	}
	if b.AuthMethod != nil {
		cl.AuthMethod = *b.AuthMethod
	}
	if b.TokenLifetimeMinutes != nil {
		cl.TokenLifetimeMinutes = *b.TokenLifetimeMinutes
	}
	if b.MaxMinutesPerDay != nil {
		cl.MaxMinutesPerDay = *b.MaxMinutesPerDay
	}
	if b.RedirectURIs != nil {
		cl.RedirectURIs = dedupe(*b.RedirectURIs)
	}
	if b.TenantID != nil {
		cl.TenantID = *b.TenantID
	}
	if b.ConnectAsUserID != nil {
		cl.ConnectAsUserID = nil
		if *b.ConnectAsUserID != "" {
			id, err := h.connectAsID(ctx, cl.TenantID, *b.ConnectAsUserID)
			if err != nil {
				return err
			}
			cl.ConnectAsUserID = &id
		}
	}
	if b.AllowImpersonation != nil {
		cl.AllowImpersonation = *b.AllowImpersonation
	}
	if b.AllowUserTokens != nil {
		cl.AllowUserTokens = *b.AllowUserTokens
	}
	if b.ImplicitGrant != nil {
		cl.DisableImplicit = !*b.ImplicitGrant
	}
	if b.GrantTypes != nil {
		cl.GrantTypes = dedupe(*b.GrantTypes)
		// Listing implicit asks for it: it lifts an earlier implicit_grant
		// false, unless this body says false itself (refused below).
		if b.ImplicitGrant == nil && cl.GrantTypes.Contains(store.GrantImplicit) {
			cl.DisableImplicit = false
		}
	}
	if b.Public != nil {
		cl.Public = *b.Public
	}

	// Who may do this comes before whether it is well formed.
	if b.TenantID != nil && !c.sees(cl.TenantID) {
		return forbidden("a tenant admin can only manage its own tenant")
	}
	if b.TenantID != nil && cl.AppID != nil && cl.TenantID != before.TenantID {
		// An app's pair is the tenant's answer to the app: moved, the
		// tenant could neither allow, decline nor disable the app again,
		// and the app's narrowings would reach into the other tenant.
		return newProblem(http.StatusConflict, "this client is tenant %s's pair of app %s: it stays in that tenant (the tenant declines the app, or an admin deletes the client)", before.TenantID, *cl.AppID)
	}
	// Sending a client's tokens somewhere new hands the caller the tokens
	// of every user who approved it (one with more power than the caller:
	// a super admin who signs in to a tenant admin's app), and changing
	// whom they speak for turns its creator's app or automation into the
	// caller's (tenancy red teams): only whoever may read its secret, its
	// creator, or a super admin may. Taking a redirect URI or a grant away
	// stays open to any admin of the client.
	retargets := store.Repoints(&before, cl) || before.AuthMethod != cl.AuthMethod ||
		!store.SameUserRef(before.ConnectAsUserID, cl.ConnectAsUserID)
	if !creating && retargets && !mayRetarget(c, cl) {
		return errRetarget
	}
	// A caller hands out no more admin power than it holds (module/power).
	if err := h.mayGive(ctx, c, cl); err != nil {
		return err
	}

	var f fieldErrors
	checkText(&f, "name", cl.Name, 200, true)
	if creating || b.Name != nil {
		checkShownName(&f, "name", cl.Name)
	}
	// Only when given: an app narrowing may leave a tenant's pair with no
	// scope, which must not block renaming it or its other settings.
	if len(cl.AllowedScopes) == 0 && (creating || b.Scopes != nil) {
		f.add("scopes", "must list at least one scope")
	} else if b.Scopes != nil {
		for _, s := range h.app.Catalogue().Unknown(cl.AllowedScopes) {
			f.add("scopes", "unknown scope %q", s)
		}
	}
	if b.Scopes != nil || b.Name != nil { // a scope's clients option: the name and the scopes must fit
		for _, s := range cl.AllowedScopes {
			if def, ok := h.app.Catalogue().Get(s); ok && !def.ForClient(cl.Name) {
				f.add("scopes", "%q is only for the client named %s", s, strings.Join(def.Clients, " or "))
			}
		}
	}
	for _, s := range cl.DefaultScopes {
		if !cl.AllowedScopes.Contains(s) {
			f.add("default_scopes", "%q is not among the client's scopes", s)
		}
	}
	switch {
	case defaultsLost && defaultsWereAll && len(cl.AllowedScopes) > 0:
		// Stored before this release: its view shows no defaults at all.
		f.add("default_scopes", "the client's default scopes were empty, standing for all its scopes (%s), and none of those is among the new scopes: name the default scopes too", strings.Join(before.AllowedScopes, " "))
	case defaultsLost && len(cl.AllowedScopes) > 0:
		f.add("default_scopes", "none of the client's default scopes is among the new scopes: name the default scopes too")
	}
	if cl.AuthMethod != store.AuthAPIKey && cl.AuthMethod != store.AuthUser {
		f.add("auth_method", "must be %q or %q", store.AuthAPIKey, store.AuthUser)
	}
	if cl.TokenLifetimeMinutes < 0 || cl.TokenLifetimeMinutes > maxLifetimeMinutes {
		f.add("token_lifetime_minutes", "must be from 0 (the gateway's default) to %d", maxLifetimeMinutes)
	}
	if cl.MaxMinutesPerDay < 0 || cl.MaxMinutesPerDay > maxMinutesPerDay {
		f.add("max_minutes_per_day", "must be from 0 (no limit) to %d", maxMinutesPerDay)
	}
	if creating || b.RedirectURIs != nil {
		// Only URIs being set: one stored under older rules must not block
		// a change to something else (disabling, narrowing scopes).
		checkRedirectURIs(&f, cl.RedirectURIs)
	}
	checkGrantTypes(&f, cl, b)
	if cl.AppID != nil && b.Scopes != nil {
		if err := h.checkPairScopes(ctx, &f, cl); err != nil {
			return err
		}
	}
	if cl.Public && cl.AuthMethod != store.AuthUser {
		f.add("public", "only %q clients can be public: %q clients authenticate with their secret", store.AuthUser, store.AuthAPIKey)
	}
	if cl.AuthMethod != store.AuthAPIKey {
		if cl.ConnectAsUserID != nil {
			f.add("connect_as_user_id", "only api_key clients connect as a user")
		}
		if cl.AllowImpersonation {
			f.add("allow_impersonation", "only api_key clients may impersonate")
		}
	}
	defaulted, err := h.applyConnectAsRules(ctx, &f, c, cl, b, creating, tie)
	if err != nil {
		return err
	}
	if defaulted {
		// The client now connects as its creator (connect_as_creator on a
		// key stored before it): whom its tokens speak for changed, which
		// is its creator's or a super admin's to do, even by an edit that
		// names no user (review); and the caller must cover that user's
		// power as well (a tenant admin turning a super admin's app into an
		// API key would make it speak for the super admin).
		if !creating && !mayRetarget(c, cl) {
			return errRetarget
		}
		if err := h.mayGive(ctx, c, cl); err != nil {
			return err
		}
	}
	if h.holdsAdminScope(cl.AllowedScopes) {
		// On every create and change, so adding an admin scope to a client
		// with such settings is refused as well (admin_clients.go).
		checkAdminClient(&f, cl)
		// A client made with a client's token made with a client's token…
		// has admin power only within store.LineageOf's reach: past it the
		// chain is broken and its tokens would carry none, so it is not
		// made (it was, and every admin call of its tokens was 403), nor
		// given one later. Checked only then: a stored admin client
		// stays editable.
		l, err := store.LineageOf(ctx, cl, h.app.Store().DBOwnerLookup())
		if err != nil {
			return err
		}
		if !heldAdmin && l.Broken {
			f.add("scopes", "this client's admin scopes would give it no power: it would stand at the end of too long a chain "+
				"of clients made with each other's tokens, or of one whose maker is gone; make it with a token nearer an admin user")
		}
	}
	if creating || b.TenantID != nil {
		if err := h.checkTenant(ctx, &f, cl.TenantID); err != nil {
			return err
		}
	}
	if cl.AppID != nil && cl.ConnectAsUserID != nil && (b.ConnectAsUserID != nil || defaulted) {
		// An app's pair for a tenant: its secret is the app developer's,
		// who may be of another tenant; the tenant's admin allowed scopes,
		// not a user's voice (as user_tokens every_client refuses it).
		f.add("connect_as_user_id", "an app's client for a tenant may not connect as a user: its secret is the app developer's")
	}
	if cl.ConnectAsUserID != nil && (b.ConnectAsUserID != nil || b.TenantID != nil || defaulted) &&
		!f.has("connect_as_user_id") && !f.has("tenant_id") {
		if err := h.checkConnectAs(ctx, &f, cl.TenantID, *cl.ConnectAsUserID); err != nil {
			return err
		}
	}
	return f.err()
}

// checkPairScopes keeps an app's tenant pair within what the app requests,
// as allowing the app does (integrations.go): an admin may narrow the pair's
// scopes and widen them back, never give it a scope the app did not ask for
// or one no app is given (neverForApps).
func (h *Handler) checkPairScopes(ctx context.Context, f *fieldErrors, cl *store.Client) error {
	requested := store.Strings{}
	switch app, err := h.app.Store().GetApp(ctx, *cl.AppID); {
	case err == nil:
		requested = app.RequestedScopes
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	cat := h.app.Catalogue()
	for _, s := range cl.AllowedScopes {
		switch {
		case neverForApps(cat, s):
			f.add("scopes", "%q is (or implies) %s, which is never granted to an app", s, builtInKind(cat, s))
		case !requested.Contains(s):
			f.add("scopes", "%q is not among the scopes the app requests", s)
		}
	}
	return nil
}

// checkGrantTypes names grant_types when it lists an unknown grant type,
// and implicit_grant when it disagrees with grant_types: true while the
// list leaves implicit out, or false in the same body as a list naming it.
func checkGrantTypes(f *fieldErrors, cl *store.Client, b *clientBody) {
	for _, g := range cl.GrantTypes {
		if !slices.Contains(store.GrantTypeNames, g) {
			f.add("grant_types", "unknown grant type %q (known: %s)", g, strings.Join(store.GrantTypeNames, ", "))
		}
	}
	if b.ImplicitGrant == nil || f.has("grant_types") {
		return
	}
	switch {
	case *b.ImplicitGrant && !cl.AllowsGrant(store.GrantImplicit):
		f.add("implicit_grant", "grant_types does not list implicit: add it there")
	case !*b.ImplicitGrant && b.GrantTypes != nil && cl.GrantTypes.Contains(store.GrantImplicit):
		f.add("implicit_grant", "false contradicts grant_types, which lists implicit")
	}
}

// mayGive refuses cl's settings when they need more power than c holds
// (clientNeeds).
func (h *Handler) mayGive(ctx context.Context, c *caller, cl *store.Client) error {
	need, err := h.clientNeeds(ctx, cl)
	if err != nil {
		return err
	}
	if !c.covers(need) {
		return cannotGrant(need, cl.TenantID)
	}
	return nil
}

// cannotGrant refuses to hand out admin power the caller does not hold.
func cannotGrant(need power.Power, tenantID string) error {
	if need.Level == power.Super {
		return forbidden("only a super admin may grant %s, connect a client as a super admin, or let a client of the default tenant impersonate or name users", scope.Admin)
	}
	return forbidden("only an admin of tenant %q may grant %s there", tenantID, scope.TenantAdmin)
}

// checkTenant names tenant_id when the tenant does not exist.
func (h *Handler) checkTenant(ctx context.Context, f *fieldErrors, id string) error {
	return h.checkTenantField(ctx, f, "tenant_id", id)
}

// checkTenantField names field when the tenant id does not exist.
func (h *Handler) checkTenantField(ctx context.Context, f *fieldErrors, field, id string) error {
	if !validID(id) {
		f.add(field, "no such tenant")
		return nil
	}
	_, err := h.app.Store().GetTenant(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		f.add(field, "no such tenant")
		return nil
	}
	return err
}

// connectAsID is the id of the user of tenantID that connect_as_user_id
// names, by id or, as user_id at the token endpoint and the impersonation
// header take them, by username; given as sent when no user of the tenant
// has it (checkConnectAs then says so).
func (h *Handler) connectAsID(ctx context.Context, tenantID, idOrName string) (string, error) {
	u, err := h.app.Store().FindUser(ctx, tenantID, idOrName)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return idOrName, nil
	case err != nil:
		return "", err
	}
	return u.ID, nil
}

// checkConnectAs names connect_as_user_id unless it is an enabled user of
// the client's tenant. Users of other tenants are "no such user", like
// users that do not exist.
func (h *Handler) checkConnectAs(ctx context.Context, f *fieldErrors, tenantID, userID string) error {
	if !validID(userID) {
		f.add("connect_as_user_id", "no such user in the client's tenant")
		return nil
	}
	u, err := h.app.Store().GetUser(ctx, userID)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && u.TenantID != tenantID):
		f.add("connect_as_user_id", "no such user in the client's tenant")
	case err != nil:
		return err
	case u.Disabled:
		f.add("connect_as_user_id", "the user is disabled")
	}
	return nil
}

// checkRedirectURIs names redirect_uris when it lists more than
// maxRedirectURIs, or for each entry checkRedirectURI refuses.
func checkRedirectURIs(f *fieldErrors, uris []string) {
	if len(uris) > maxRedirectURIs {
		f.add("redirect_uris", "lists %d URIs; at most %d", len(uris), maxRedirectURIs)
		return
	}
	for i, u := range uris {
		if msg := checkRedirectURI(u); msg != "" {
			f.add("redirect_uris", "entry %d %s", i, msg)
		}
	}
}

// checkRedirectURI returns why u is not an acceptable redirect URI, or "".
// RFC 6749 §3.1.2 wants an absolute URI without a fragment.
func checkRedirectURI(u string) string {
	if u == oob {
		return ""
	}
	if len(u) > maxRedirectURI {
		return "is longer than 2000 bytes"
	}
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return "is not a valid URL"
	case p.Scheme != "http" && p.Scheme != "https":
		return "must be an absolute http(s) URL or " + oob
	case p.Host == "":
		return "must name a host"
	case web.Origin(p) == "":
		return "must name a host that is a DNS name or an IP address, with a port from 1 to 65535 if any"
	case p.User != nil:
		return "must not carry credentials"
	case p.Fragment != "" || strings.Contains(u, "#"):
		return "must not have a fragment"
	case p.Scheme == "http" && !loopback(p.Hostname()):
		// A code or token sent over plain HTTP can be read on the way
		// (OAuth 2.1 §2.3.1, RFC 8252 §7.3): http is for a native app's
		// loopback listener only.
		return "must use https (http is allowed only for localhost and loopback addresses: 127.0.0.0/8, [::1])"
	}
	return ""
}

// loopback reports whether host names this machine's loopback interface.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
