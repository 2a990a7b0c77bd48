package issuer

import (
	"context"
	"sort"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
)

// Grant handles one grant_type at the token endpoint. Adding a grant is
// adding a file that registers one (as in ory/fosite), not editing the
// endpoint. A grant never sees the endpoint: the endpoint authenticates the
// client once and checks it may use the grant (authenticateFor, mayUse),
// then hands the grant the request and the Minter it builds on (as fosite's
// flows build on its HandleHelper).
type Grant interface {
	// Type is the grant_type value the grant answers.
	Type() string
	// PublicClients reports whether a public client may use the grant,
	// naming itself with client_id alone; every other client always
	// authenticates with its secret.
	PublicClients() bool
	// Params names the request parameters the grant reads (besides
	// grant_type, scope, the client's credentials, and the claims scopes
	// require): sent twice, one of them is invalid_request, while a
	// parameter no one reads is ignored however often it comes.
	Params() []string
	// Handle turns a request of an authenticated client into an issued
	// token.
	Handle(ctx context.Context, m *Minter, req *GrantRequest) (*Issued, *oauth.Error)
}

// GrantRequest is what a grant works on: the parsed token request and its
// client, authenticated and allowed the grant.
type GrantRequest struct {
	*Request
	Client *store.Client
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
