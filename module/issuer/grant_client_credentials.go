package issuer

import (
	"context"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
)

func init() { RegisterGrant(clientCredentials{}) }

// clientCredentials is RFC 6749 §4.4, extended the way Nitro documents it: a
// user_id (or userId) makes a 3-legged token bound to that user, for clients
// allowed to ask; a client that connects as a fixed user (Bigtincan, Imagen
// API keys) always gets 3-legged tokens for that user.
type clientCredentials struct{}

func (clientCredentials) Type() string { return "client_credentials" }

func (clientCredentials) Handle(ctx context.Context, e *TokenEndpoint, req *Request) (*Issued, *oauth.Error) {
	c, oerr := e.authenticate(ctx, req)
	if oerr != nil {
		return nil, oerr
	}
	if c.Public {
		return nil, oauth.ErrUnauthorizedClient("a public client may not use client_credentials")
	}
	if c.AuthMethod != store.AuthAPIKey {
		return nil, oauth.ErrUnauthorizedClient("this client signs users in through the authorize endpoint and may not use client_credentials")
	}
	sub := TokenSubject{Client: c}
	userParam := req.First("user_id", "userId")
	switch {
	case c.ConnectAsUserID != nil:
		// The fixed user always wins: letting user_id pick another would
		// hand a connect-as client 3-legged tokens for any user of the
		// tenant, with no act claim to say who acted.
		if sub.User, oerr = e.findUser(ctx, c, *c.ConnectAsUserID); oerr != nil {
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
		if sub.User, oerr = e.findUser(ctx, c, userParam); oerr != nil {
			return nil, oerr
		}
	}
	legs := 2
	if sub.User != nil {
		legs = 3
	}
	scopes, oerr := e.grantScopes(c, req.Get("scope"), legs, req.Get)
	if oerr != nil {
		return nil, oerr
	}
	ext, oerr := e.requiredClaims(c, scopes, req)
	if oerr != nil {
		return nil, oerr
	}
	return e.mint(ctx, sub, scopes, ext)
}
