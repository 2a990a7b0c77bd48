package issuer

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
)

func init() { RegisterGrant(authorizationCode{}) }

// RefreshTokenLifetime is how long a refresh token can be used; every use
// rotates it and starts a new period.
var RefreshTokenLifetime = 30 * 24 * time.Hour

// authorizationCode is RFC 6749 §4.1.3 with PKCE (RFC 7636, S256): it
// redeems a code from the authorize endpoint, once, for an access token
// bound to the user who approved it and a refresh token.
type authorizationCode struct{}

func (authorizationCode) Type() string { return "authorization_code" }

// PublicClients is true: a public client's code is protected by PKCE.
func (authorizationCode) PublicClients() bool { return true }
func (authorizationCode) Params() []string    { return []string{"code", "redirect_uri", "code_verifier"} }

func (authorizationCode) Handle(ctx context.Context, m *Minter, req *GrantRequest) (*Issued, *oauth.Error) {
	raw := req.Get("code")
	if raw == "" {
		return nil, oauth.ErrInvalidRequest("the code parameter is missing")
	}
	c := req.Client
	caller := ctx
	ctx, cancel := spending(ctx)
	defer cancel()
	now := time.Now()
	handle, family := store.NewRefreshFamily()
	// The presenter is vetted before the code is spent or taken as reused:
	// checked afterwards, any client that saw a victim's code could burn it,
	// so that the rightful client's redemption looked like a reuse and
	// revoked its tokens.
	check := func(code *store.AuthCode) error {
		if oe := checkPresenter(code, c, req.Request); oe != nil {
			return refusal{oe}
		}
		return nil
	}
	code, revoked, err := m.app.Store().RedeemAuthCode(ctx, store.Digest(raw), now,
		store.Redemption{FamilyID: family, KeepUntil: now.Add(RefreshTokenLifetime), Check: check})
	var refused refusal
	switch {
	case errors.As(err, &refused):
		return nil, refused.oe
	case errors.Is(err, store.ErrNotFound):
		return nil, oauth.ErrInvalidGrant("the code is unknown or expired")
	case errors.Is(err, store.ErrCodeReused):
		// RFC 6749 §4.1.2: a code used twice was intercepted, so whoever
		// redeemed it first may not be the client. What it produced is
		// revoked, on this node too before RedeemAuthCode returned (the
		// change feed).
		m.logger.Warn("an authorization code was used twice; the tokens issued from it are revoked",
			zap.String("client_id", c.ID), zap.Int("access_tokens_revoked", len(revoked)))
		return nil, oauth.ErrInvalidGrant("the code was already used; the tokens issued from it are revoked")
	case err != nil:
		return nil, m.failed(ctx, "redeeming a code", err)
	}
	u, oerr := m.findUser(ctx, c, code.UserID)
	if oerr != nil {
		return nil, oerr
	}
	// The client's scopes may have changed since the user approved.
	scopes, oerr := m.resolveScopes(c, scope.Join(code.Scopes), 3)
	if oerr != nil {
		return nil, oerr
	}
	issued, oerr := m.mintWithRefresh(ctx, c, u, scopes, code.Scopes, family, handle, "", req.Request)
	if oerr == nil && gone(caller) {
		return nil, m.takeBack(caller, "code redemption", issued, func(ctx context.Context) error {
			return m.app.Store().UndoRedemption(ctx, store.Digest(raw), family, issued.refreshDigest, code.ExpiresAt)
		})
	}
	return issued, oerr
}

// refusal carries a presenter check's protocol error through the store.
type refusal struct{ oe *oauth.Error }

func (r refusal) Error() string { return r.oe.Error() }

// checkPresenter decides whether client c, with req, may redeem code (RFC
// 6749 §4.1.3, RFC 7636 §4.6): the code was issued to c, the redirect_uri
// matches the authorization request's, and the code_verifier the challenge.
func checkPresenter(code *store.AuthCode, c *store.Client, req *Request) *oauth.Error {
	if code.ClientID != c.ID {
		return oauth.ErrInvalidGrant("the code was issued to another client")
	}
	if code.RedirectURI != "" && req.Get("redirect_uri") != code.RedirectURI {
		return oauth.ErrInvalidGrant("redirect_uri differs from the one of the authorization request")
	}
	verifier := req.Get("code_verifier")
	switch {
	case code.CodeChallenge != "":
		if verifier == "" {
			return oauth.ErrInvalidGrant("the code_verifier is missing")
		}
		if !validVerifier(verifier) {
			return oauth.ErrInvalidGrant("the code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~' (RFC 7636 §4.1)")
		}
		sum := sha256.Sum256([]byte(verifier))
		if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(code.CodeChallenge)) != 1 {
			return oauth.ErrInvalidGrant("the code_verifier does not match the code_challenge")
		}
	case c.Public:
		// The authorize endpoint refuses such a request; a code from before
		// the client became public is refused here.
		return oauth.ErrInvalidGrant("a public client may redeem only a code requested with PKCE (code_challenge)")
	case verifier != "":
		return oauth.ErrInvalidGrant("a code_verifier was sent but the authorization request had no code_challenge")
	}
	return nil
}

// validVerifier reports whether v is a code_verifier RFC 7636 §4.1 allows:
// 43 to 128 unreserved characters. A shorter one could be guessed from its
// challenge, which travelled in the authorization URL.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}
