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
	"github.com/scopegate/scopegate/module/secret"
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

func (authorizationCode) Handle(ctx context.Context, e *TokenEndpoint, req *Request) (*Issued, *oauth.Error) {
	raw := req.Get("code")
	if raw == "" {
		return nil, oauth.ErrInvalidRequest("the code parameter is missing")
	}
	c, public, oerr := e.grantClient(ctx, req)
	if oerr != nil {
		return nil, oerr
	}
	code, err := e.app.Store().RedeemAuthCode(ctx, store.Digest(raw), time.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauth.ErrInvalidGrant("the code is unknown, expired or already used")
	}
	if err != nil {
		e.logger.Error("redeeming a code", zap.Error(err))
		return nil, oauth.ErrServer()
	}
	if code.ClientID != c.ID {
		return nil, oauth.ErrInvalidGrant("the code was issued to another client")
	}
	if code.RedirectURI != "" && req.Get("redirect_uri") != code.RedirectURI {
		return nil, oauth.ErrInvalidGrant("redirect_uri differs from the one of the authorization request")
	}
	verifier := req.Get("code_verifier")
	switch {
	case code.CodeChallenge != "":
		if verifier == "" {
			return nil, oauth.ErrInvalidGrant("the code_verifier is missing")
		}
		sum := sha256.Sum256([]byte(verifier))
		if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(code.CodeChallenge)) != 1 {
			return nil, oauth.ErrInvalidGrant("the code_verifier does not match the code_challenge")
		}
	case public:
		return nil, oauth.ErrInvalidGrant("a client without a secret may redeem only a code requested with PKCE (code_challenge)")
	case verifier != "":
		return nil, oauth.ErrInvalidGrant("a code_verifier was sent but the authorization request had no code_challenge")
	}
	u, oerr := e.findUser(ctx, c, code.UserID)
	if oerr != nil {
		return nil, oerr
	}
	// The client's scopes may have changed since the user approved.
	scopes, oerr := e.resolveScopes(c, scope.Join(code.Scopes), 3)
	if oerr != nil {
		return nil, oerr
	}
	return e.mintWithRefresh(ctx, c, u, scopes, code.Scopes, "", req)
}

// grantClient authenticates a confidential client (with its secret) or
// identifies a public one (client_id alone); public is true for the latter.
func (e *TokenEndpoint) grantClient(ctx context.Context, req *Request) (*store.Client, bool, *oauth.Error) {
	if req.ClientSecret != "" {
		c, oerr := e.authenticate(ctx, req)
		return c, false, oerr
	}
	if req.ClientID == "" {
		return nil, false, oauth.ErrInvalidClient("client_id is missing")
	}
	c, err := e.app.Runtime().Client(ctx, req.ClientID)
	if err != nil {
		e.logger.Error("loading client", zap.Error(err))
		return nil, false, oauth.ErrServer()
	}
	if c == nil {
		return nil, false, oauth.ErrInvalidClient("unknown client")
	}
	if c.Disabled {
		return nil, false, oauth.ErrInvalidClient("the client is disabled")
	}
	return c, true, nil
}

// mintWithRefresh issues an access token for scopes and a refresh token of
// family (a new family when empty) that keeps familyScopes.
func (e *TokenEndpoint) mintWithRefresh(ctx context.Context, c *store.Client, u *store.User, scopes, familyScopes []string, family string, req *Request) (*Issued, *oauth.Error) {
	ext, oerr := e.requiredClaims(c, scopes, req)
	if oerr != nil {
		return nil, oerr
	}
	issued, oerr := e.mint(ctx, TokenSubject{Client: c, User: u}, scopes, ext)
	if oerr != nil {
		return nil, oerr
	}
	if family == "" {
		family = secret.NewToken(16)
	}
	refresh := secret.NewToken(32)
	if err := e.app.Store().SaveRefreshToken(ctx, &store.RefreshToken{
		Digest: store.Digest(refresh), FamilyID: family, ClientID: c.ID, UserID: u.ID,
		Scopes: store.Strings(familyScopes), ExpiresAt: time.Now().Add(RefreshTokenLifetime),
	}); err != nil {
		e.logger.Error("saving a refresh token", zap.Error(err))
		return nil, oauth.ErrServer()
	}
	issued.RefreshToken = refresh
	return issued, nil
}
