package issuer

import (
	"strings"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
)

// grantScopes is resolveScopes for a request whose parameters are at hand
// (client_credentials, the implicit grant): a request naming no scope gets
// the default scopes it can satisfy, their required claims included (see
// defaultScopes). param reads the request's parameters.
func (m *Minter) grantScopes(c *store.Client, raw string, legs int, param func(string) string) ([]string, *oauth.Error) {
	if strings.Trim(raw, " ") == "" { // a tab or a line feed is an error (scope.Parse), not no scope
		return m.defaultScopes(c, legs, param)
	}
	return m.resolveScopes(c, raw, legs)
}

// defaultScopes is what a request naming no scope gets: the client's
// default scopes (all its scopes when it has none) minus those another of
// them implies, which the grant holds anyway (Bits' documented answer is
// "application", which stands for "application.read" too). A scope the request cannot satisfy is left out instead of failing the
// request: one demanding the other kind of token (Nitro's studio client
// holds gamification_user, 3-legged only, and global, 2-legged only), or,
// when param is given, one whose required claims the request lacks (Bits'
// application.session without application_id). A scope the request names
// explicitly still needs all of that (resolveScopes, requiredClaims). When
// nothing is left, the answer says why the first scope was left out.
// param is nil when the claims come later (a code's redemption), and so
// are not checked here.
func (m *Minter) defaultScopes(c *store.Client, legs int, param func(string) string) ([]string, *oauth.Error) {
	list := []string(c.DefaultScopes)
	if len(list) == 0 {
		list = c.AllowedScopes
	}
	if len(list) == 0 {
		return nil, oauth.ErrInvalidScope("the client has no scopes")
	}
	cat := m.app.Catalogue()
	var granted []string
	var firstOut *oauth.Error
	for _, s := range list {
		def, oe := m.assignable(c, s, legs)
		if oe != nil {
			// A configuration fault (a scope gone from the catalogue), not
			// something the request could change: say so.
			return nil, oe
		}
		if oe = legsFit(def, legs); oe == nil {
			oe = nameFits(def, c)
		}
		if oe == nil && param != nil {
			oe = claimsPresent(def, param)
		}
		if oe != nil {
			if firstOut == nil {
				firstOut = oe
			}
			continue
		}
		granted = append(granted, s)
	}
	if len(granted) == 0 {
		out := *firstOut
		out.Description = "no default scope of this client fits this request: " + out.Description
		return nil, &out
	}
	return withoutImplied(cat, granted), nil
}

// assignable checks that s is in the catalogue and assigned to c, itself
// or through a scope of c that implies it: a client holding demo.write may
// ask for a token with demo.read alone, which the guard would take its
// demo.write for anyway. Only through a scope this token could carry
// itself, though: one that needs the other kind of token (legs), a claim
// (requires) or another client name (clients) must not hand out what it
// implies without its own conditions.
func (m *Minter) assignable(c *store.Client, s string, legs int) (*scope.Scope, *oauth.Error) {
	cat := m.app.Catalogue()
	def, ok := cat.Get(s)
	if !ok {
		return nil, oauth.ErrInvalidScope("unknown scope %q", s)
	}
	if c.HasScope(s) {
		return def, nil
	}
	for _, held := range c.AllowedScopes {
		hd, ok := cat.Get(held)
		if ok && cat.Satisfies([]string{held}, s) && len(hd.RequiredClaims) == 0 && legsFit(hd, legs) == nil && nameFits(hd, c) == nil {
			return def, nil
		}
	}
	return nil, oauth.ErrInvalidScope("scope %q has not been assigned to this client", s)
}

// legsFit checks that a token of the given kind (2 or 3) may carry def.
func legsFit(def *scope.Scope, legs int) *oauth.Error {
	if def.Legs.Allows(legs) {
		return nil
	}
	if def.Legs == scope.ThreeLegged {
		return oauth.ErrInvalidScope("scope %q needs a 3-legged token: pass the user_id of the user it acts for", def.Name)
	}
	return oauth.ErrInvalidScope("scope %q needs a 2-legged token: do not pass a user", def.Name)
}

// nameFits checks that def may go to a client of c's name (a scope's
// clients option): a client renamed, or given the scope before the option
// was set, gets no token with it.
func nameFits(def *scope.Scope, c *store.Client) *oauth.Error {
	if def.ForClient(c.Name) {
		return nil
	}
	return oauth.ErrInvalidScope("scope %q is only for the client named %s", def.Name, strings.Join(def.Clients, " or "))
}

// claimsPresent checks that the request supplies every claim def requires
// (their values are checked by requiredClaims).
func claimsPresent(def *scope.Scope, param func(string) string) *oauth.Error {
	for _, name := range def.RequiredClaims {
		if param(name) == "" {
			return oauth.ErrInvalidRequest("scope %q requires the %s parameter", def.Name, name)
		}
	}
	return nil
}

// withoutImplied drops each scope another one of list implies (and is not
// implied by in turn: of a cycle, all stay), keeping the order.
func withoutImplied(cat *scope.Catalogue, list []string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		implied := false
		for _, t := range list {
			if t != s && cat.Satisfies([]string{t}, s) && !cat.Satisfies([]string{s}, t) {
				implied = true
				break
			}
		}
		if !implied {
			out = append(out, s)
		}
	}
	return out
}
