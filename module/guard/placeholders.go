package guard

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// setPlaceholders exposes the identity to logs and later handlers, e.g.
// {scopegate.client_id}; {http.auth.user.id} feeds the access log's user_id.
// They come from one provider that reads the identity when asked, instead
// of eight values boxed into the replacer's map on every request whether
// anything reads them or not. Values Set in the replacer come first, so a
// later handler can still override them (vars does for http.auth.user.id).
func (g *Guard) setPlaceholders(r *http.Request, id *Identity) {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Map(id.placeholder)
	}
}

// placeholder answers the placeholders of the request id belongs to;
// {scopegate.actor} is unknown unless someone impersonates.
func (id *Identity) placeholder(key string) (any, bool) {
	if key == "http.auth.user.id" {
		if id.UserID != "" {
			return id.UserID, true
		}
		return id.Claims.ClientID, true
	}
	name, ok := strings.CutPrefix(key, "scopegate.")
	if !ok {
		return nil, false
	}
	c := id.Claims
	switch name {
	case "client_id":
		return c.ClientID, true
	case "user_id":
		return id.UserID, true
	case "tenant":
		return c.Tenant, true
	case "scopes":
		return c.Scope, true
	case "legs":
		return strconv.Itoa(legsOf(id)), true
	case "jti":
		return c.ID, true
	case "actor":
		if id.Actor != nil {
			return id.Actor.ClientID, true
		}
	}
	return nil, false
}
