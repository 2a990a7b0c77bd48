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

// checkClaims compares the claims the token carries with the route's
// match_claims; a token without a claim is not restricted by it.
func (g *Guard) checkClaims(r *http.Request, ext map[string]string) *oauth.Error {
	if len(g.claimMatches) == 0 || len(ext) == 0 {
		return nil
	}
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	for _, cm := range g.claimMatches {
		have, ok := ext[cm.name]
		if !ok {
			continue
		}
		if hasDotSegment(r.URL.Path) {
			// Placeholders such as {http.request.uri.path.1} read the path
			// as sent; an upstream that resolves "/app-1/../app-2" would
			// serve another application than the one compared here.
			return oauth.New(oauth.InvalidRequest, http.StatusBadRequest, "the request path must not contain . or .. segments")
		}
		if have != cm.want(repl) {
			return oauth.New(oauth.InsufficientScope, http.StatusForbidden, "the token is limited to %s %s", cm.name, have)
		}
	}
	return nil
}

// hasDotSegment reports whether p holds a "." or ".." segment.
func hasDotSegment(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}
