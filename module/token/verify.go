package token

import (
	"context"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Verification failures, worded for the error_description clients see.
var (
	ErrMalformed = errors.New("the token is malformed")
	ErrExpired   = errors.New("the token has expired")
	ErrNotYet    = errors.New("the token is not valid yet")
	ErrSignature = errors.New("the token signature is invalid")
	ErrIssuer    = errors.New("the token was issued by someone else")
	ErrAudience  = errors.New("the token is meant for another audience")
	ErrType      = errors.New("the token is not an access token")
	ErrAlgorithm = errors.New("the token is not signed with EdDSA")
)

// Verifier checks tokens against a key ring.
type Verifier struct {
	Ring     *KeyRing
	Issuer   string
	Audience string
	Leeway   time.Duration
	parser   *jwt.Parser
}

// NewVerifier returns a verifier that accepts only EdDSA tokens of type
// at+jwt, issued by issuer for audience (RFC 9068 §4: a resource server
// refuses tokens whose aud does not name it), with exp required and a
// small clock leeway.
func NewVerifier(ring *KeyRing, issuer, audience string, leeway time.Duration) *Verifier {
	return &Verifier{
		Ring: ring, Issuer: issuer, Audience: audience, Leeway: leeway,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{Algorithm}), // never "none", never HMAC
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience), // aud is then required too
			jwt.WithLeeway(leeway),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
		),
	}
}

// Verify parses raw and returns its claims, or one of the errors above.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	var c Claims
	tok, err := v.parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != Type && typ != "application/"+Type {
			return nil, ErrType
		}
		kid, _ := t.Header["kid"].(string)
		c.kid = kid
		return v.Ring.publicKey(ctx, kid)
	})
	if err == nil {
		if c.ClientID == "" || c.ID == "" || (c.Legs != 2 && c.Legs != 3) {
			return nil, ErrMalformed
		}
		return &c, nil
	}
	if tok != nil && tok.Method != nil && tok.Method.Alg() != Algorithm {
		return nil, ErrAlgorithm
	}
	switch {
	case errors.Is(err, ErrType):
		return nil, ErrType
	case errors.Is(err, ErrUnknownKey):
		return nil, ErrUnknownKey
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, ErrSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return nil, ErrNotYet
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return nil, ErrIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience): // a token without aud is malformed
		return nil, ErrAudience
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return nil, ErrAlgorithm
	}
	return nil, ErrMalformed
}
