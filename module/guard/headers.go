package guard

import (
	"net/http"
	"strconv"
	"strings"
)

// identityHeaders are the trusted headers the upstream receives. All share
// one prefix, so stripping every caller header with that prefix removes any
// forged identity, including headers a later version adds.
type identityHeaders struct {
	prefix                                             string
	clientID, userID, tenant, scopes, legs, actor, jti string
	claimPrefix                                        string
}

func newIdentityHeaders(prefix string) identityHeaders {
	p := http.CanonicalHeaderKey(prefix)
	return identityHeaders{
		prefix:      p,
		clientID:    p + "Client-Id",
		userID:      p + "User-Id",
		tenant:      p + "Tenant",
		scopes:      p + "Scopes",
		legs:        p + "Legs",
		actor:       p + "Actor-Client-Id",
		jti:         p + "Token-Id",
		claimPrefix: p + "Claim-",
	}
}

// apply strips caller-sent identity headers and sets the trusted ones.
func (h identityHeaders) apply(r *http.Request, id *Identity) {
	for k := range r.Header {
		if len(k) >= len(h.prefix) && strings.EqualFold(k[:len(h.prefix)], h.prefix) {
			delete(r.Header, k)
		}
	}
	c := id.Claims
	r.Header[h.clientID] = []string{c.ClientID}
	r.Header[h.tenant] = []string{c.Tenant}
	r.Header[h.scopes] = []string{c.Scope}
	r.Header[h.legs] = []string{strconv.Itoa(legsOf(id))}
	r.Header[h.jti] = []string{c.ID}
	if id.UserID != "" {
		r.Header[h.userID] = []string{id.UserID}
	}
	if id.Actor != nil {
		r.Header[h.actor] = []string{id.Actor.ClientID}
	}
	for name, v := range c.Ext {
		r.Header[http.CanonicalHeaderKey(h.claimPrefix+strings.ReplaceAll(name, "_", "-"))] = []string{v}
	}
}
