package issuer

import (
	"context"
	"sort"

	"github.com/scopegate/scopegate/module/oauth"
)

// Grant handles one grant_type at the token endpoint. Adding a grant is
// adding a file that registers one (as in ory/fosite), not editing the
// endpoint.
type Grant interface {
	// Type is the grant_type value the grant answers.
	Type() string
	// Handle turns a parsed request into an issued token.
	Handle(ctx context.Context, e *TokenEndpoint, req *Request) (*Issued, *oauth.Error)
}

var grants = map[string]Grant{}

// RegisterGrant adds a grant; call it from init.
func RegisterGrant(g Grant) {
	if _, dup := grants[g.Type()]; dup {
		panic("grant registered twice: " + g.Type())
	}
	grants[g.Type()] = g
}

// GrantTypes lists the registered grant types, sorted.
func GrantTypes() []string {
	out := make([]string, 0, len(grants))
	for t := range grants {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
