package issuer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/secret"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

// Minter is the one place tokens are made, for every grant of the token
// endpoint and the authorize endpoint's implicit grant alike: client
// authentication (client_auth.go), scopes (default_scopes.go), the claims
// scopes require, the daily allowance and signing. It knows no HTTP
// endpoint: a grant gets it with the request and the authenticated client.
type Minter struct {
	app    *app.App
	logger *zap.Logger
	// userTokensEveryClient: the token endpoint's user_tokens every_client.
	userTokensEveryClient bool

	// usedUp remembers the daily allowances found used up (usedUpAllowance).
	usedUpOnce sync.Once
	usedUp     *lru.Cache[allowanceKey, time.Time]
}

// allowanceKey names one day's allowance of a client or user, as large as
// the client's setting was when it was found used up: raising the setting
// names another allowance.
type allowanceKey struct {
	client, subject, day string
	minutes              int
}

// usedUpAllowances bounds the allowances a minter remembers as used up.
const usedUpAllowances = 10_000

// usedUpMemory is how long a minter trusts that an allowance it found used
// up still is: a token that was never handed out gives its charge back
// (refund), on whichever node or endpoint minted it, and this minter hears
// of it no later than that.
const usedUpMemory = 30 * time.Second

// usedUpAllowance is the minter's memory of used-up allowances, so a client
// asking again and again is refused without a write transaction each time:
// a red team's client hammering the endpoint past its allowance cost 4
// times a token's CPU per refusal and held the database's write lock for
// every one. Usage grows but for refunds, so an entry (the time it was
// found used up) lasts usedUpMemory. (The expirable LRU would start a
// goroutine per minter that never ends, one more at every config reload.)
func (m *Minter) usedUpAllowance() *lru.Cache[allowanceKey, time.Time] {
	m.usedUpOnce.Do(func() { m.usedUp, _ = lru.New[allowanceKey, time.Time](usedUpAllowances) })
	return m.usedUp
}

// knownUsedUp reports whether key was found used up within usedUpMemory.
func (m *Minter) knownUsedUp(key allowanceKey) bool {
	found, ok := m.usedUpAllowance().Get(key)
	return ok && time.Since(found) < usedUpMemory
}

// Issued is what a grant hands back to the endpoint.
type Issued struct {
	AccessToken  string
	ExpiresIn    int64
	Scope        string
	RefreshToken string
	Claims       *token.Claims
	// refreshDigest names the refresh token row saved with it (handed out
	// or not), for a grant to take back when its caller has gone.
	refreshDigest string
	// charge is the daily allowance its lifetime took, nil for none: given
	// back (refund) when the token is not handed out after all.
	charge *allowanceCharge
}

// allowanceCharge is what one token took from a daily allowance.
type allowanceCharge struct {
	key     allowanceKey
	subject string
	seconds int64
}

// TokenSubject says for whom a token is minted.
type TokenSubject struct {
	Client *store.Client
	// User is the bound user of a 3-legged token; nil for 2-legged.
	User *store.User
	// Act names the party acting on the user's behalf, if any.
	Act *token.Actor
	// ConnectAs says User is the client's fixed connect-as user.
	ConnectAs bool
	// PlainUser says the client could name User only as a user who is not
	// an admin (user_tokens every_client).
	PlainUser bool
	// NamedUser says the request named User and the client may name any
	// user (allow_user_tokens).
	NamedUser bool
}

// signInSubject is the subject of a token for a user who signed in (the
// implicit grant, a code, a refresh). A client that connects as a user acts
// for that user alone ("the API key is tied to a user ID"), so nobody
// else's sign-in gets it a token. That user's tokens carry no connect-as
// mark (they are the user's own), and end when the client is given another
// user as all of the client's tokens do (store: endWhatTheEditTakes).
func signInSubject(c *store.Client, u *store.User) (TokenSubject, *oauth.Error) {
	if connectsAsAnother(c, u) {
		return TokenSubject{}, oauth.ErrInvalidGrant("this application acts as another user; only that user can authorize it")
	}
	// Not marked connect-as: the user signed in and holds the token, so it
	// is that user's own and never the client's (a connect-as token may
	// impersonate when the client is allowed to; this one must not).
	return TokenSubject{Client: c, User: u}, nil
}

// connectsAsAnother reports whether c connects as a user other than u.
func connectsAsAnother(c *store.Client, u *store.User) bool {
	return c.ConnectAsUserID != nil && *c.ConnectAsUserID != u.ID
}

// resolveScopes turns the scope parameter into the granted list: absent
// means the client's default scopes (defaultScopes, claims left to the
// caller); the parameter must be well formed (scope.Parse: single spaces
// between scope tokens), and each scope must exist, be allowed for the
// client and suit the token's kind (legs).
func (m *Minter) resolveScopes(c *store.Client, raw string, legs int) ([]string, *oauth.Error) {
	requested, err := scope.Parse(raw)
	if err != nil {
		return nil, oauth.ErrInvalidScope("%s", err.Error())
	}
	if len(requested) == 0 {
		return m.defaultScopes(c, legs, nil)
	}
	for _, s := range requested {
		def, oe := m.assignable(c, s, legs)
		if oe != nil {
			return nil, oe
		}
		if oe := legsFit(def, legs); oe != nil {
			return nil, oe
		}
		if oe := nameFits(def, c); oe != nil {
			return nil, oe
		}
	}
	return requested, nil
}

// requiredClaims collects the claims the granted scopes demand from the
// request. A redirect_url or redirect_uri claim, in any spelling
// (scope.IsRedirectClaim), must be one the client registered (exact match).
func (m *Minter) requiredClaims(c *store.Client, scopes []string, req *Request) (map[string]string, *oauth.Error) {
	var ext map[string]string
	for _, s := range scopes {
		def, _ := m.app.Catalogue().Get(s)
		for _, name := range def.RequiredClaims {
			v := req.Get(name)
			if v == "" {
				return nil, oauth.ErrInvalidRequest("scope %q requires the %s parameter", s, name)
			}
			if scope.IsRedirectClaim(name) && !c.RedirectURIs.Contains(v) {
				return nil, oauth.ErrInvalidRequest("%s is not one of the client's registered redirect URLs", name)
			}
			if len(v) > 512 {
				return nil, oauth.ErrInvalidRequest("%s is longer than 512 characters", name)
			}
			if !claimText(v) {
				// The value travels in the token and in an identity header
				// (X-Scopegate-Claim-…), where a control character would be
				// refused on every request, or split the header.
				return nil, oauth.ErrInvalidRequest("%s must be UTF-8 text without control characters", name)
			}
			if ext == nil {
				ext = map[string]string{}
			}
			ext[name] = v
		}
	}
	return ext, nil
}

// mint signs an access token for sub with the given scopes, cutting its
// lifetime to what is left of a daily allowance.
func (m *Minter) mint(ctx context.Context, sub TokenSubject, scopes []string, ext map[string]string) (*Issued, *oauth.Error) {
	claims, lifetime, charge, oerr := m.claims(ctx, sub, scopes, ext)
	if oerr != nil {
		return nil, oerr
	}
	issued, oerr := m.sign(claims, lifetime)
	if oerr != nil {
		m.refund(ctx, charge)
		return nil, oerr
	}
	issued.charge = charge
	return issued, nil
}

// refund gives back an allowance charge (nil: none) for a token that is not
// handed out, on a context of its own (ctx may be why it is not), and
// forgets the allowance as used up: the charge may have been what used it
// up.
func (m *Minter) refund(ctx context.Context, charge *allowanceCharge) {
	if charge == nil {
		return
	}
	rctx, cancel := aftermath(ctx)
	defer cancel()
	k := charge.key
	if err := m.app.Store().RefundAllowance(rctx, k.client, charge.subject, k.day, charge.seconds); err != nil {
		m.logger.Error("giving back a daily allowance charge", zap.Error(err), zap.String("client_id", k.client))
	}
	m.usedUpAllowance().Remove(k)
}

// claims builds the claims of an access token for sub, cutting its
// lifetime to what is left of a daily allowance (which it consumes), that
// lifetime, and what it took from the allowance (nil for none).
func (m *Minter) claims(ctx context.Context, sub TokenSubject, scopes []string, ext map[string]string) (*token.Claims, time.Duration, *allowanceCharge, *oauth.Error) {
	c := sub.Client
	lifetime := m.app.Lifetime(c)
	now := time.Now()
	legs, subject := 2, c.ID
	if sub.User != nil {
		legs, subject = 3, sub.User.ID
	}
	var charge *allowanceCharge
	if c.MaxMinutesPerDay > 0 {
		day, resets := m.app.Day(now)
		key := allowanceKey{client: c.ID, subject: subject, day: day, minutes: c.MaxMinutesPerDay}
		var granted int64
		var err error
		if !m.knownUsedUp(key) {
			granted, err = m.app.Store().ConsumeAllowance(ctx, c.ID, subject, day,
				int64(lifetime/time.Second), int64(c.MaxMinutesPerDay)*60)
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil, 0, nil, oauth.ErrInvalidClient("the client no longer exists")
		}
		if err != nil {
			return nil, 0, nil, m.failed(ctx, "consuming daily allowance", err, zap.String("client_id", c.ID))
		}
		if granted == 0 {
			m.usedUpAllowance().Add(key, time.Now())
			app.ObserveAllowanceRefusal(legs)
			oe := oauth.ErrInvalidGrant("the daily token allowance of %d minutes for this %s is used up; it resets at %s",
				c.MaxMinutesPerDay, map[int]string{2: "client", 3: "user"}[legs], resets.Format(time.RFC3339))
			oe.Header = http.Header{"Retry-After": {strconv.Itoa(int(time.Until(resets).Seconds()) + 1)}}
			return nil, 0, nil, oe
		}
		lifetime = time.Duration(granted) * time.Second
		charge = &allowanceCharge{key: key, subject: subject, seconds: granted}
	}
	claims := &token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    m.app.Issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{m.app.Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(lifetime)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        secret.NewToken(16),
		},
		ClientID: c.ID,
		Scope:    scope.Join(scopes),
		Tenant:   c.TenantID,
		Legs:     legs,
		// The client's generation as this node knows it: a token minted
		// from a row that had not yet heard of a revocation is refused once
		// it has (the client asks again).
		Generation: c.TokenGeneration,
		Act:        sub.Act,
		ConnectAs:  sub.ConnectAs,
		PlainUser:  sub.PlainUser,
		NamedUser:  sub.NamedUser,
		Ext:        ext,
	}
	m.app.IssueAfterWatermark(claims)
	return claims, lifetime, charge, nil
}

// sign signs claims into an access token that lasts lifetime.
func (m *Minter) sign(claims *token.Claims, lifetime time.Duration) (*Issued, *oauth.Error) {
	raw, err := m.app.Sign(claims)
	if err != nil {
		m.logger.Error("signing token", zap.Error(err))
		return nil, serverFailure(err)
	}
	return &Issued{AccessToken: raw, ExpiresIn: int64(lifetime / time.Second), Scope: claims.Scope, Claims: claims}, nil
}

// mintWithRefresh issues an access token for scopes and a refresh token of
// family that keeps familyScopes and replaces the refresh token of digest
// replaces ("" for a code's first). The refresh token names its family by
// handle (store.NewRefreshToken), or nothing for a family made before
// tokens named theirs (handle ""). The refresh token records the access
// token's id, so revoking the family revokes the access token too. When the
// grant was revoked meanwhile (its code or a rotated refresh token came
// back, or RFC 7009) nothing is handed out. A client that may not use the
// refresh_token grant gets the access token alone.
func (m *Minter) mintWithRefresh(ctx context.Context, c *store.Client, u *store.User, scopes, familyScopes []string, family, handle, replaces string, req *Request) (*Issued, *oauth.Error) {
	ext, oerr := m.requiredClaims(c, scopes, req)
	if oerr != nil {
		return nil, oerr
	}
	sub, oerr := signInSubject(c, u)
	if oerr != nil {
		return nil, oerr
	}
	issued, oerr := m.mint(ctx, sub, scopes, ext)
	if oerr != nil {
		return nil, oerr
	}
	refresh := secret.NewToken(32)
	if handle != "" {
		refresh = store.NewRefreshToken(handle, m.app.Sealer())
	}
	// A revocation lasts as long as the token verifies, leeway included.
	accessExpires := m.app.RevocationUntil(issued.Claims.ExpiresAt.Time)
	// The row dates the access token's revocation (its watermark group):
	// never before its iat, which IssueAfterWatermark may have moved past
	// this node's clock.
	created := time.Now()
	if iat := issued.Claims.IssuedAt.Time; iat.After(created) {
		created = iat
	}
	err := m.app.Store().SaveRefreshToken(ctx, &store.RefreshToken{
		Digest: store.Digest(refresh), FamilyID: family, ClientID: c.ID, UserID: u.ID,
		Scopes: store.Strings(familyScopes), ExpiresAt: time.Now().Add(RefreshTokenLifetime),
		AccessJTI: issued.Claims.ID, AccessExpiresAt: &accessExpires, CreatedAt: created.UTC(),
	}, replaces)
	if err != nil {
		// The access token is never handed out: its allowance goes back.
		m.refund(ctx, issued.charge)
	}
	if errors.Is(err, store.ErrReused) {
		// The revocation took the rest.
		return nil, oauth.ErrInvalidGrant("the grant was revoked meanwhile (a code or refresh token of it was used twice, or it was revoked)")
	}
	if err != nil {
		return nil, m.failed(ctx, "saving a refresh token", err)
	}
	if replaces != "" && handle != "" {
		m.pruneFamily(ctx, family)
	}
	// A client limited to grant types without refresh_token gets none: the
	// row is kept all the same, since it is what revokes the access token
	// when the grant is revoked (a code used twice, RFC 7009 on the code's
	// family, a user's grants ended).
	issued.refreshDigest = store.Digest(refresh)
	if mayUse(c, store.GrantRefreshToken) == nil {
		issued.RefreshToken = refresh
	}
	return issued, nil
}

// findUser loads an active user of the client's tenant by id or username.
func (m *Minter) findUser(ctx context.Context, c *store.Client, idOrName string) (*store.User, *oauth.Error) {
	u, err := m.app.Store().FindUser(ctx, c.TenantID, idOrName)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauth.ErrInvalidGrant("unknown user %q in the client's tenant", truncate(idOrName))
	}
	if err != nil {
		return nil, m.failed(ctx, "loading user", err)
	}
	if u.Disabled {
		return nil, oauth.ErrInvalidGrant("the user is disabled")
	}
	return u, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return fmt.Sprint(s)
}

// claimText reports whether v is valid UTF-8 without control characters.
func claimText(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

// pruneFamily keeps the retired refresh tokens of a family that rotated
// often to the newest few (store.PruneRefreshFamily). The refresh has
// succeeded whatever happens here: a failure only leaves rows for the next
// rotation or Cleanup, so it is logged, not answered; and a client hanging
// up does not skip it.
func (m *Minter) pruneFamily(ctx context.Context, family string) {
	ctx, cancel := aftermath(ctx)
	defer cancel()
	if err := m.app.Store().PruneRefreshFamily(ctx, family); err != nil {
		m.logger.Error("pruning a refresh token family's retired tokens", zap.Error(err))
	}
}
