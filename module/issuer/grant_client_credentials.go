package issuer

import (
	"context"

	"github.com/scopegate/scopegate/module/oauth"
)

func init() { RegisterGrant(clientCredentials{}) }

// clientCredentials is RFC 6749 §4.4, extended the way Nitro documents it: a
// user_id (or userId) makes a 3-legged token bound to that user, for clients
// allowed to ask; a client that connects as a fixed user (Bigtincan, Imagen
// API keys) always gets 3-legged tokens for that user.
type clientCredentials struct{}

func (clientCredentials) Type() string { return "client_credentials" }

// PublicClients is false: the client's secret is its only credential here
// (which kinds of client may use the grant at all, mayUse decides).
func (clientCredentials) PublicClients() bool { return false }

func (clientCredentials) Handle(ctx context.Context, m *Minter, req *GrantRequest) (*Issued, *oauth.Error) {
	c := req.Client
	var oerr *oauth.Error
	sub := TokenSubject{Client: c}
	userParam, oerr := req.Alias("user_id", "userId")
	if oerr != nil {
		return nil, oerr
	}
	switch {
	case c.ConnectAsUserID != nil:
		// The fixed user always wins: letting user_id pick another would
		// hand a connect-as client 3-legged tokens for any user of the
		// tenant, with no act claim to say who acted.
		if sub.User, oerr = m.findUser(ctx, c, *c.ConnectAsUserID); oerr != nil {
			if oerr.Code == oauth.InvalidGrant {
				oerr = oauth.ErrInvalidGrant("the user this client connects as is disabled or gone")
			}
			return nil, oerr
		}
		if userParam != "" && userParam != sub.User.ID && userParam != sub.User.Username {
			return nil, oauth.ErrInvalidRequest("this client connects as a fixed user: leave out user_id, or name that user")
		}
		sub.ConnectAs = true
	case userParam != "":
		if !c.AllowUserTokens {
			return nil, oauth.ErrUnauthorizedClient("this client may not ask for tokens bound to a user (user_id)")
		}
		if sub.User, oerr = m.findUser(ctx, c, userParam); oerr != nil {
			return nil, oerr
		}
	}
	legs := 2
	if sub.User != nil {
		legs = 3
	}
	scopes, oerr := m.grantScopes(c, req.Get("scope"), legs, req.Get)
	if oerr != nil {
		return nil, oerr
	}
	ext, oerr := m.requiredClaims(c, scopes, req.Request)
	if oerr != nil {
		return nil, oerr
	}
	return m.mint(ctx, sub, scopes, ext)
}
