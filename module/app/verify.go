package app

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

// Reasons a well-signed token is refused anyway.
var (
	ErrRevoked        = errors.New("the token has been revoked")
	ErrClientDisabled = errors.New("the client is disabled")
	ErrClientGone     = errors.New("the client no longer exists")
	ErrUserDisabled   = errors.New("the token's user is disabled or gone")
	ErrClientMoved    = errors.New("the client is no longer in the token's tenant")
	ErrConnectAs      = errors.New("the user the client connects as has changed; get a new token")
)

// Verify checks a raw access token: signature, type, issuer and times (once,
// then from the cache), and on every call that it is not revoked, that its
// client still exists, is enabled and is still in the token's tenant, that a
// 2-legged token's client does not connect as a user by now, and that the
// token's user is still active.
// A non-nil error other than the token and app errors above is internal.
func (a *App) Verify(ctx context.Context, raw string) (*token.Claims, error) {
	rt := a.runtime()
	key := tokenKeyOf(raw)
	c, hit := rt.tokens.get(key)
	if hit {
		if c.Issuer != a.Issuer {
			return nil, token.ErrIssuer
		}
		if !slices.Contains(c.Audience, a.Audience) { // a reload may change it too
			return nil, token.ErrAudience
		}
		now := time.Now()
		if now.After(c.ExpiresAt.Add(time.Duration(a.Leeway))) {
			rt.tokens.remove(key)
			return nil, token.ErrExpired
		}
		// The signing key's overlap may have ended since the token was
		// cached: the ring says so without a query.
		if !rt.Keys.Verifies(c.KeyID(), now) {
			rt.tokens.remove(key)
			return nil, token.ErrUnknownKey
		}
	} else {
		var err error
		if c, err = a.verifier.Verify(ctx, raw); err != nil {
			return nil, err
		}
		c.Freeze()
		rt.tokens.add(key, c)
	}
	if rt.isRevoked(c.ID) {
		return nil, ErrRevoked
	}
	client, err := rt.Client(ctx, c.ClientID)
	if err != nil {
		return nil, err
	}
	if client == nil {
		return nil, ErrClientGone
	}
	if client.Disabled {
		return nil, ErrClientDisabled
	}
	// The tenant travels upstream as the caller's: a token from before a
	// super admin moved the client must not speak for the old tenant.
	if c.Tenant != client.TenantID {
		return nil, ErrClientMoved
	}
	if !actsFor(client, c) {
		return nil, ErrConnectAs
	}
	if c.Legs == 3 {
		u, err := rt.User(ctx, c.Subject)
		if err != nil {
			return nil, err
		}
		if u == nil || u.Disabled {
			return nil, ErrUserDisabled
		}
	}
	return c, nil
}

// actsFor reports whether the client's current settings could have issued
// c. A client that connects as a user gets only tokens for that user, so a
// 2-legged token of such a client dates from before it was given the user:
// it must not go on speaking for the bare client. A token minted for the
// connect-as user carries the cas mark and ends when the client is given
// another connect-as user (or none); other 3-legged tokens (user_id, a
// sign-in, a refresh) stand on their own.
func actsFor(client *store.Client, c *token.Claims) bool {
	if c.ConnectAs {
		return client.ConnectAsUserID != nil && *client.ConnectAsUserID == c.Subject
	}
	return c.Legs == 3 || client.ConnectAsUserID == nil
}

// IsTokenError reports whether err means the token is bad (answer 401)
// rather than that the server failed (answer 500).
func IsTokenError(err error) bool {
	for _, e := range []error{
		token.ErrMalformed, token.ErrExpired, token.ErrNotYet, token.ErrSignature, token.ErrIssuer,
		token.ErrType, token.ErrAlgorithm, token.ErrUnknownKey, token.ErrAudience,
		ErrRevoked, ErrClientDisabled, ErrClientGone, ErrUserDisabled, ErrClientMoved, ErrConnectAs,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Sign mints a token with the current signing key.
func (a *App) Sign(c *token.Claims) (string, error) { return a.runtime().Keys.Sign(c) }

// Principal names who a token speaks for: its user if one is bound, else
// its client.
func Principal(c *token.Claims) string {
	if c.Legs == 3 {
		return c.Subject
	}
	return c.ClientID
}

// ParseToken checks only a token's signature, type, issuer and times, not
// its client's status: revocation and introspection use it to find the
// token's client and jti.
func (a *App) ParseToken(ctx context.Context, raw string) (*token.Claims, error) {
	return a.verifier.Verify(ctx, raw)
}

// Revoke makes a token unusable on every node (RFC 7009) for as long as it
// could still verify: Verify accepts it until exp plus the leeway, so the
// revocation is kept that long, not merely until exp. Every node, this one
// included, applies it from its change-feed entry.
func (a *App) Revoke(ctx context.Context, c *token.Claims) error {
	return a.runtime().Store.Revoke(ctx, c.ID, c.ClientID, c.ExpiresAt.Add(time.Duration(a.Leeway)))
}
