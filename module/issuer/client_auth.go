package issuer

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
)

// authenticateFor identifies the client of a token request once, before
// its grant runs: with its secret, or, when public is true (the grant
// accepts public clients), by client_id alone for a client registered as
// public.
func (m *Minter) authenticateFor(ctx context.Context, req *Request, public bool) (*store.Client, *oauth.Error) {
	if public {
		return m.grantClient(ctx, req)
	}
	return m.authenticate(ctx, req)
}

// authenticate checks the request's client credentials.
func (m *Minter) authenticate(ctx context.Context, req *Request) (*store.Client, *oauth.Error) {
	if req.ClientID == "" {
		return nil, oauth.ErrInvalidClient("client authentication is required (HTTP Basic or client_id and client_secret)")
	}
	if req.ClientSecret == "" {
		return nil, oauth.ErrInvalidClient("the client secret is missing")
	}
	c, err := m.app.AuthenticateClient(ctx, req.ClientID, req.ClientSecret)
	switch {
	case err == nil && c.Public:
		// It has no secret to send (RFC 6749 §2.1): the one stored when it
		// was made, or while it was confidential, is never shown again
		// and proves nothing about who holds it.
		return nil, oauth.ErrInvalidClient("a public client has no secret: send client_id alone")
	case err == nil:
		return c, nil
	case errors.Is(err, app.ErrBadCredentials):
		return nil, oauth.ErrInvalidClient("unknown client or wrong secret")
	case errors.Is(err, app.ErrClientDisabled):
		return nil, oauth.ErrInvalidClient("the client is disabled")
	}
	// Only an id of Scopegate's shape is named: anything else may be a
	// secret pasted into the wrong field (and is anyone's to send).
	var id []zap.Field
	if generatedID(req.ClientID) {
		id = append(id, zap.String("client_id", req.ClientID))
	}
	return nil, m.failed(ctx, "authenticating client", err, id...)
}

// grantClient identifies the client of a code, refresh or revocation
// request. A confidential client must authenticate with its secret (RFC
// 6749 §3.2.1, §6); only a client registered as public may name itself
// with client_id alone. "No secret sent" is never enough by itself: a
// confidential client's leaked refresh token or code (with its verifier)
// would otherwise be redeemable by anyone.
func (m *Minter) grantClient(ctx context.Context, req *Request) (*store.Client, *oauth.Error) {
	if req.ClientSecret != "" {
		return m.authenticate(ctx, req)
	}
	if req.ClientID == "" {
		return nil, oauth.ErrInvalidClient("client authentication is required (HTTP Basic or client_id and client_secret; client_id alone for a public client)")
	}
	c, err := m.app.Runtime().Client(ctx, req.ClientID)
	if err != nil {
		return nil, m.failed(ctx, "loading client", err)
	}
	if c == nil || !c.Public {
		// The same answer for both, as authenticate gives.
		return nil, oauth.ErrInvalidClient("unknown client or missing secret: only a public client may send client_id alone")
	}
	if c.Disabled {
		return nil, oauth.ErrInvalidClient("the client is disabled")
	}
	return c, nil
}

// mayUse decides whether client c may use grant type g (one of
// store.GrantTypeNames), for the token endpoint and the authorize endpoint
// alike, with RFC 6749's unauthorized_client (§5.2, §4.1.2.1): a public
// client, and one that signs users in, never use client_credentials; then
// the client's own settings (store.Client.AllowsGrant: its grant_types and
// DisableImplicit) decide.
func mayUse(c *store.Client, g string) *oauth.Error {
	if g == store.GrantClientCredentials {
		if c.Public {
			return oauth.ErrUnauthorizedClient("a public client may not use client_credentials")
		}
		if c.AuthMethod != store.AuthAPIKey {
			return oauth.ErrUnauthorizedClient("this client signs users in through the authorize endpoint and may not use client_credentials")
		}
	}
	if c.AllowImpersonation && (g == store.GrantImplicit || g == store.GrantAuthorizationCode) {
		// Its tokens may act as any user of the tenant: they stay with the
		// client, never in the hands of a user who signed in.
		return oauth.ErrUnauthorizedClient("a client allowed to act on behalf of users gets its tokens with its own credentials (client_credentials), never through a user's sign-in")
	}
	if c.AllowsGrant(g) {
		return nil
	}
	switch g {
	case store.GrantImplicit:
		return oauth.ErrUnauthorizedClient("this application may not use the implicit grant (response_type=token)")
	case store.GrantAuthorizationCode:
		return oauth.ErrUnauthorizedClient("this client may not use the authorization_code grant (response_type=code)")
	}
	return oauth.ErrUnauthorizedClient("this client may not use the %s grant", g)
}
