package guard

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// requestVars is the request's Caddy variable table (what caddyhttp.GetVar
// and SetVar read and write), looked up once per guarded request: each
// GetVar or SetVar walks the whole context chain again, comparing every
// key on the way, and the five the guard made cost about 1 % of a cached
// request's CPU. nil outside a Caddy server (reads find nothing, writes are
// dropped, as SetVar does).
type requestVars map[string]any

func varsOf(r *http.Request) requestVars {
	v, _ := r.Context().Value(caddyhttp.VarsCtxKey).(map[string]any)
	return v
}

// identity is what the first guard of the request verified, or nil.
func (v requestVars) identity() *Identity {
	id, _ := v[varClaims].(*Identity)
	return id
}

// moved holds the impersonation headers scopegate_strip took out of the
// request, or nil.
func (v requestVars) moved() http.Header {
	h, _ := v[varMoved].(http.Header)
	return h
}

// refused reports whether a guard of the request refused it.
func (v requestVars) refused() bool {
	r, _ := v[varRefused].(bool)
	return r
}

func (v requestVars) set(key string, value any) {
	if v != nil {
		v[key] = value
	}
}
