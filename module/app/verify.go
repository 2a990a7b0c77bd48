package app

import (
	"context"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

// Reasons a well-signed token is refused anyway.
var (
	ErrRevoked        = errors.New("the token has been revoked")
	ErrClientDisabled = errors.New("the client is disabled")
	ErrClientGone     = errors.New("the client no longer exists")
	ErrUserDisabled   = errors.New("the token's user is disabled or gone")
	// ErrUserPromoted: the client named the user as one who is not an admin
	// (user_tokens every_client), and the user has become one since.
	ErrUserPromoted = errors.New("the token's user has become an admin since it was issued")
	ErrClientMoved  = errors.New("the client is no longer in the token's tenant")
	// ErrScopeNotForClient: a scope of the token is now kept for clients of
	// other names (the catalogue's clients option, added or changed by a
	// reload, or the client renamed): the token endpoint would not issue it.
	ErrScopeNotForClient = errors.New("a scope of the token is only for clients of another name now; get a new token")
	ErrConnectAs         = errors.New("the user the client connects as has changed; get a new token")
	// ErrConnectAsPromoted: the token speaks for a super admin its client
	// connects as or named, and the client's owner is neither that user
	// nor a super admin (power.MaySpeakFor).
	ErrConnectAsPromoted = errors.New("the token's user is a super admin, and the client's owner is neither that user nor a super admin")
)

// Verify checks a raw access token. The signature and the parse (what the
// token's bytes decide) run on a cache miss, and a token is cached when it
// is verified the second time (admission.go); everything that time or
// a change can undo runs on every call, hit or miss, in one place: the
// claims' validity (token.Verifier.Check: key still verifying, exp, issuer,
// audience) and the token's standing.
// A non-nil error other than the token and app errors above is internal.
func (a *App) Verify(ctx context.Context, raw string) (*token.Claims, error) {
	rt := a.runtime()
	if rt == nil {
		return nil, store.ErrNotOpen
	}
	key := tokenKeyOf(raw)
	c, hit := rt.tokens.get(key)
	if !hit {
		var err error
		if c, err = a.verifier.Parse(ctx, raw); err != nil {
			return nil, err
		}
	}
	if err := a.verifier.Check(c, time.Now()); err != nil {
		if hit && (errors.Is(err, token.ErrExpired) || errors.Is(err, token.ErrUnknownKey)) {
			rt.tokens.remove(key) // it never passes again
		}
		// A refused token is never cached; one refused by an issuer or
		// audience a reload changed stays for the config that issued it.
		return nil, err
	}
	if !hit {
		c.Freeze()
		rt.tokens.admit(key, c) // from its second verification on
	}
	if err := a.standing(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// standing checks what the database says about a valid token, on every
// call (from caches the change feed keeps current): it is not revoked, its
// client still exists, is enabled and is still in the token's tenant, a
// 2-legged token's client does not connect as a user by now, and the
// token's user is still active.
func (a *App) standing(ctx context.Context, c *token.Claims) error {
	rt := a.runtime()
	if rt.revoked.revoked(c.ID, c.ClientID, revocationGroup(c), issuedAt(c)) {
		return ErrRevoked
	}
	client, err := rt.Client(ctx, c.ClientID)
	if err != nil {
		return err
	}
	if client == nil {
		return ErrClientGone
	}
	if client.Disabled {
		return ErrClientDisabled
	}
	// The tenant travels upstream as the caller's: a token from before a
	// super admin moved the client must not speak for the old tenant.
	if c.Tenant != client.TenantID {
		return ErrClientMoved
	}
	if !actsFor(client, c) {
		return ErrConnectAs
	}
	if !scopesForClient(a.Catalogue(), c, client.Name) {
		return ErrScopeNotForClient
	}
	// An admin ended the client's tokens (a leak, say), or moved it or
	// changed its connect-as user and back (checked after those two, so
	// that a token refused for a move says so): those minted before are of
	// an older generation.
	if c.Generation < client.TokenGeneration || endedByTime(c, client) {
		return ErrRevoked
	}
	if c.Legs == 3 {
		u, err := rt.User(ctx, c.Subject)
		if err != nil {
			return err
		}
		if u == nil || u.Disabled {
			return ErrUserDisabled
		}
		if c.PlainUser && (u.Admin || u.SuperAdmin) {
			return ErrUserPromoted
		}
		if c.ConnectAs || c.NamedUser {
			holds, err := a.SpeaksFor(ctx, client, u)
			if err != nil {
				return err
			}
			if !holds {
				return ErrConnectAsPromoted
			}
		}
	}
	return nil
}

// scopesForClient reports whether every scope of c may be held by a client
// named name, as the catalogue says now (scope.Scope.ForClient): the token
// endpoint checks it when it issues, and a catalogue reloaded with a
// clients option (or a client renamed) must not leave tokens out that it
// would no longer issue.
func scopesForClient(cat *scope.Catalogue, c *token.Claims, name string) bool {
	for _, s := range c.Scopes() {
		if def, ok := cat.Get(s); ok && !def.ForClient(name) {
			return false
		}
	}
	return true
}

// actsFor reports whether the client's current settings could have issued
// c. A client that connects as a user gets only tokens for that user, so a
// 2-legged token of such a client dates from before it was given the user:
// it must not go on speaking for the bare client. A token minted for the
// connect-as user carries the cas mark and is refused here while the client
// connects as another user (or none). Every token minted before such a
// change, marked or not, is of an older generation as well (the store ends
// them all), which is what keeps them refused if the user comes back.
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
		ErrRevoked, ErrClientDisabled, ErrClientGone, ErrUserDisabled, ErrUserPromoted, ErrClientMoved, ErrConnectAs, ErrConnectAsPromoted,
		ErrScopeNotForClient,
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

// ParseToken checks a token's signature, type and claims (Verifier.Verify),
// not its standing: revocation uses it to find the token's client and jti.
func (a *App) ParseToken(ctx context.Context, raw string) (*token.Claims, error) {
	return a.verifier.Verify(ctx, raw)
}

// RevocationLeewayFloor is the least leeway a revocation is kept for past
// its token's exp, whatever the leeway is now: a node restarted or
// reloaded with a larger leeway takes the token for that much longer, and
// a revocation kept only for the old one would be gone (purged) while the
// token verified again.
const RevocationLeewayFloor = 5 * time.Minute

// RevocationUntil is how long a revocation of a token expiring at exp is
// kept: as long as the token could still verify, exp plus the leeway, and
// plus RevocationLeewayFloor at least.
func (a *App) RevocationUntil(exp time.Time) time.Time {
	return exp.Add(max(time.Duration(a.Leeway), RevocationLeewayFloor))
}

// Revoke makes a token unusable on every node (RFC 7009) for as long as it
// could still verify: Verify accepts it until exp plus the leeway, so the
// revocation is kept that long, not merely until exp (RevocationUntil).
// Every node, this one included, applies it from its change-feed entry.
func (a *App) Revoke(ctx context.Context, c *token.Claims) error {
	rt := a.runtime()
	if rt.revoked.holds(c.ID) {
		return nil // revoked before: its row lasts as long as the token could verify
	}
	t := store.RevokedToken{
		JTI: c.ID, ClientID: c.ClientID, Subject: revocationGroup(c), IssuedAt: time.Unix(issuedAt(c), 0),
		Until: a.RevocationUntil(c.ExpiresAt.Time),
	}
	if err := rt.Store.RevokeToken(ctx, t); err != nil {
		return err
	}
	// Held here at once, also when the row was there already: a revocation
	// repeated writes no feed entry, and this node may be one that missed
	// the first.
	rt.MarkRevoked(store.Revocation{JTI: t.JTI, ClientID: t.ClientID, Subject: t.Subject, IssuedAt: t.IssuedAt.Unix(), ExpiresAt: t.Until.UTC()})
	return nil
}

// IssueAfterWatermark dates a token about to be signed at least a second
// after its group's watermark, which ends the group's tokens issued up to
// that second: a watermark may reach this node's current second (a burst
// of revocations within one second), or a second ahead of it (a revoking
// node whose clock runs ahead), and a token minted after this node learned
// of it must not be born ended. Only iat moves (by as much as the clocks
// are apart, within the leeway every node allows iat); exp stays.
func (a *App) IssueAfterWatermark(c *token.Claims) {
	rt := a.runtime()
	if rt == nil {
		return // nothing is signed without the database either
	}
	upTo := rt.revoked.watermark(c.ClientID, revocationGroup(c))
	if upTo > 0 && c.IssuedAt != nil && c.IssuedAt.Unix() <= upTo {
		c.IssuedAt = jwt.NewNumericDate(time.Unix(upTo+1, 0))
	}
}

// revocationGroup names, within a client's tokens, who could have had the
// token minted, which is whose revocations a watermark may replace
// (store.RevocationsKeptPerSubject): the user, for a token a user's sign-in
// granted (authorization code, implicit, refresh), or the client itself,
// for one it minted with its secret alone (2-legged, or naming a user
// through user_id or connect-as). So a client minting and revoking in a loop
// keeps one bounded group however many users it names, and no one ends
// another user's tokens.
func revocationGroup(c *token.Claims) string {
	if c.Legs != 3 || c.ConnectAs || c.PlainUser || c.NamedUser {
		return c.ClientID
	}
	return c.Subject
}

// MaxClientLifetime is the longest token lifetime a client may be given
// (the admin API's bound on token_lifetime_minutes).
const MaxClientLifetime = 365 * 24 * time.Hour

// issuedAt is a token's iat in Unix seconds; 0 for a token without one,
// which no revocation watermark covers.
func issuedAt(c *token.Claims) int64 {
	if c.IssuedAt == nil {
		return 0
	}
	return c.IssuedAt.Unix()
}

// endedByTime reports whether a node of a build from before token
// generations (during a rolling upgrade) ended the client's tokens: such a
// build records only the time, leaving the generation at 0, and ends every
// token issued up to that second. Tokens of a later generation are past it.
func endedByTime(c *token.Claims, client *store.Client) bool {
	if client.TokenGeneration != 0 || client.TokensRevokedAt == nil || c.IssuedAt == nil {
		return false
	}
	return !c.IssuedAt.Time.After(*client.TokensRevokedAt)
}
