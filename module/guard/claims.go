package guard

import (
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/scopegate/scopegate/module/oauth"
)

// claimMatch is one match_claims entry, prepared at Provision.
type claimMatch struct {
	name, value string
	// key is set when value is a single placeholder ("{http.request.uri.path.1}",
	// the usual case): the replacer is asked for it directly, with the same
	// result as ReplaceKnown but without parsing value and building a new
	// string on every request.
	key string
}

// newClaimMatches prepares match_claims, in name order so that a request
// failing two of them always gets the same answer.
func newClaimMatches(m map[string]string) []claimMatch {
	out := make([]claimMatch, 0, len(m))
	for name, value := range m {
		cm := claimMatch{name: name, value: value}
		if inner, ok := strings.CutPrefix(value, "{"); ok {
			if inner, ok = strings.CutSuffix(inner, "}"); ok && !strings.ContainsAny(inner, `{}\`) {
				cm.key = inner
			}
		}
		out = append(out, cm)
	}
	slices.SortFunc(out, func(a, b claimMatch) int { return strings.Compare(a.name, b.name) })
	return out
}

// want returns the value the claim must have for this request: value with
// its known placeholders replaced (an unknown one stays as written).
func (cm claimMatch) want(repl *caddy.Replacer) string {
	if repl == nil {
		return cm.value
	}
	if cm.key == "" {
		return repl.ReplaceKnown(cm.value, "")
	}
	v, ok := repl.Get(cm.key)
	if !ok {
		return cm.value
	}
	return caddy.ToString(v)
}

// descClaimMissing refuses a token minted before a scope it holds came
// to require a claim a route binds.
const descClaimMissing = "the token lacks a claim one of its scopes now requires: request a new token"

// checkClaims compares the claims the token carries with the route's
// match_claims. A token without a claim is not restricted by it, unless
// one of its scopes requires that claim: such a token was minted before
// the catalogue said so (a reload added the requirement), and would
// otherwise reach every value the binding keeps apart, for as long as it
// lives; it is refused as invalid_token, so that its client gets a new
// one, which carries the claim.
func (g *Guard) checkClaims(r *http.Request, granted []string, ext map[string]string) *oauth.Error {
	if len(g.claimMatches) == 0 {
		return nil
	}
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	for _, cm := range g.claimMatches {
		have, ok := ext[cm.name]
		if !ok {
			if g.scopesRequire(granted, cm.name) {
				return oauth.New(oauth.InvalidToken, http.StatusUnauthorized, "%s", descClaimMissing)
			}
			continue
		}
		if ambiguousPath(r.URL.Path) {
			// Placeholders such as {http.request.uri.path.1} read the path
			// as sent, segment by segment: an upstream that resolves
			// "/app-1/../app-2" would serve another application than the
			// one compared here, and in "//v1/apps/app-2" (routes match it
			// with the slashes merged) segment 2 is "apps", not "app-2".
			return oauth.New(oauth.InvalidRequest, http.StatusBadRequest, "the request path must not contain empty, . or .. segments")
		}
		if have != cm.want(repl) {
			return oauth.New(oauth.InsufficientScope, http.StatusForbidden, "the token is limited to %s %s", cm.name, have)
		}
	}
	return nil
}

// scopesRequire reports whether a scope of granted requires claim name (as
// the catalogue says now).
func (g *Guard) scopesRequire(granted []string, name string) bool {
	cat := g.app.Catalogue()
	for _, s := range granted {
		if def, ok := cat.Get(s); ok && slices.Contains(def.RequiredClaims, name) {
			return true
		}
	}
	return false
}

// ambiguousPath reports whether p, the decoded request path, holds a "." or
// ".." segment, or an empty one before its last separator ("//", which
// route matchers merge but placeholders count), as any upstream might see
// it: segments end at '/' and at
// '\\' (Windows servers and some frameworks split on both), and what is left
// percent-encoded after Go's decoding (a double-encoded "%252e%252e%255c"
// arrives here as "%2e%2e%5c") counts as decoded too, for an upstream that
// decodes again: "%2e" is a dot, "%2f" and "%5c" end a segment.
func ambiguousPath(p string) bool {
	dots, other := 0, false // the current segment: its dots, and whether it holds anything else
	for i := 0; i < len(p); i++ {
		sep := false
		switch c := p[i]; {
		case c == '/' || c == '\\':
			sep = true
		case c == '.':
			dots++
			continue
		case c == '%' && i+2 < len(p):
			switch p[i+1 : i+3] {
			case "2e", "2E":
				dots, i = dots+1, i+2
				continue
			case "2f", "2F", "5c", "5C":
				sep, i = true, i+2
			}
		}
		if !sep {
			other = true
			continue
		}
		if isDots(dots, other) || (i > 0 && dots == 0 && !other) {
			return true // a dot segment, or an empty one that is not the root's
		}
		dots, other = 0, false
	}
	return isDots(dots, other)
}

// isDots reports whether a segment of dots dots and nothing else (!other)
// is "." or "..".
func isDots(dots int, other bool) bool { return !other && (dots == 1 || dots == 2) }
