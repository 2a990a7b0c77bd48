package token

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
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

// Verifier checks tokens against a key ring, in two parts: Parse, what a
// token's bytes decide once (signature, header, shape), and Check, what
// must hold on every request because time or configuration changes it
// (issuer, audience, times, the signing key still verifying). Verify is
// both; a cache of parsed claims runs Check alone on a hit.
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
			jwt.WithoutClaimsValidation(), // Check does it, on every request
			// One spelling per token: a signature segment whose unused
			// trailing bits were flipped decodes to the same bytes and
			// would otherwise pass as the same token.
			jwt.WithStrictDecoding(),
		),
	}
}

// Verify parses raw and checks its claims now: it returns them, or one of
// the errors above.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	c, err := v.Parse(ctx, raw)
	if err != nil {
		return nil, err
	}
	if err := v.Check(c, time.Now()); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse checks what raw's bytes alone decide: the EdDSA signature by a key
// of the ring that verifies now, the at+jwt type, and the claims every
// access token carries (client_id, jti, legs 2 or 3). It does not look at
// the claims' validity: Check does.
func (v *Verifier) Parse(ctx context.Context, raw string) (*Claims, error) {
	var c Claims
	if err := v.parseSigned(ctx, raw, &c); err != nil {
		return nil, err
	}
	if c.ClientID == "" || c.ID == "" || (c.Legs != 2 && c.Legs != 3) {
		return nil, ErrMalformed
	}
	return &c, nil
}

// parseSigned decodes raw into c and checks its header and signature, in
// this order, each failure with its error: the header (three segments, the
// first strict base64url JSON of at most maxHeaderSegment bytes), the
// algorithm (EdDSA only: never "none", never HMAC), the type, the signature
// segment's shape, the key (kid on the ring and still verifying), the
// signature, and only then the claims (strict base64url JSON: else
// ErrMalformed). A token signed by a key whose
// private half this node holds is confirmed by ownKey instead of a
// verification; the answer is the same.
//
// The claims are decoded last because anyone can send a token: decoding a
// stranger's 15 KB of claims (a 2,300-member aud, one nested 5,500 deep)
// cost up to 40 times a whole request, while the header is small and the
// signature costs what a good token's does.
func (v *Verifier) parseSigned(ctx context.Context, raw string, c *Claims) error {
	head, rest, ok := strings.Cut(raw, ".")
	if !ok {
		return ErrMalformed
	}
	if kid, own := v.Ring.state.Load().ownHeaders[head]; own {
		return v.parseOwn(ctx, raw, len(head), rest, kid, c)
	}
	payload, sigSeg, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sigSeg, ".") || len(head) > maxHeaderSegment {
		return ErrMalformed
	}
	headJSON, err := strict.DecodeString(head)
	if err != nil {
		return ErrMalformed
	}
	var header map[string]any
	if json.Unmarshal(headJSON, &header) != nil {
		return ErrMalformed
	}
	if alg, _ := header["alg"].(string); alg != Algorithm {
		return ErrAlgorithm
	}
	if typ, _ := header["typ"].(string); typ != Type && typ != "application/"+Type {
		return ErrType
	}
	if len(sigSeg) != sigSegmentLen {
		return ErrMalformed
	}
	sig, err := strict.DecodeString(sigSeg)
	if err != nil {
		return ErrMalformed
	}
	kid, _ := header["kid"].(string)
	k, err := v.Ring.key(ctx, kid)
	if err != nil {
		return err
	}
	if !k.signed([]byte(raw[:len(head)+1+len(payload)]), sig) {
		return ErrSignature
	}
	if _, _, err := v.parser.ParseUnverified(raw, c); err != nil {
		return ErrMalformed
	}
	c.kid = kid
	return nil
}

// maxHeaderSegment bounds a foreign token's header segment (Scopegate's
// own are about 100 bytes: alg, typ and kid), so that its JSON costs little
// before the signature is checked.
const maxHeaderSegment = 1024

// strict is the only spelling of a segment accepted: unused trailing bits
// set would let one token have several spellings.
var strict = base64.RawURLEncoding.Strict()

// sigSegmentLen is the length of an Ed25519 signature's segment. Strict
// decoding still skips CR and LF, so a signature segment with line breaks
// in it would decode to the same signature: a second spelling of the same
// token, a second cache entry. Only this length with nothing skipped
// decodes to the 64 bytes a signature has. (A line break in the header or
// the claims changes the signed bytes: the signature refuses it.)
var sigSegmentLen = base64.RawURLEncoding.EncodedLen(ed25519.SignatureSize)

// parseOwn is parseSigned for a token whose header segment is, byte for
// byte, the one a key with an ownKey writes (so alg, typ and kid are known
// without decoding it). The signature is checked before the claims are
// decoded: a forgery costs no JSON.
func (v *Verifier) parseOwn(ctx context.Context, raw string, headLen int, rest, kid string, c *Claims) error {
	payload, sigSeg, ok := strings.Cut(rest, ".")
	if !ok || len(sigSeg) != sigSegmentLen {
		return ErrMalformed
	}
	sig, err := strict.DecodeString(sigSeg)
	if err != nil {
		return ErrMalformed
	}
	k, err := v.Ring.key(ctx, kid)
	if err != nil {
		return err
	}
	if !k.signed([]byte(raw[:headLen+1+len(payload)]), sig) {
		return ErrSignature
	}
	claims, err := strict.DecodeString(payload)
	if err != nil {
		return ErrMalformed
	}
	if err := decodeOwnClaims(claims, c); err != nil {
		return ErrMalformed
	}
	c.kid = kid
	return nil
}

// Check decides whether claims from Parse are valid at now: the key that
// signed them still verifies (on the ring's clock: a retired key's overlap
// may have ended since), exp is required and not past, nbf and iat not
// ahead, each with the leeway, the issuer is this verifier's and aud names
// its audience (a reload may change either). A token failing several
// checks gets the first error of that order. It allocates nothing: it runs
// on every request.
func (v *Verifier) Check(c *Claims, now time.Time) error {
	if !v.Ring.verifiesNow(c.kid) {
		return ErrUnknownKey
	}
	if c.ExpiresAt != nil && !now.Before(c.ExpiresAt.Add(v.Leeway)) {
		return ErrExpired
	}
	if (c.NotBefore != nil && now.Before(c.NotBefore.Add(-v.Leeway))) ||
		(c.IssuedAt != nil && now.Before(c.IssuedAt.Add(-v.Leeway))) {
		return ErrNotYet
	}
	if c.Issuer != "" && c.Issuer != v.Issuer {
		return ErrIssuer
	}
	noAud := len(c.Audience) == 0 || len(c.Audience) == 1 && c.Audience[0] == ""
	if !noAud && !slices.Contains(c.Audience, v.Audience) {
		return ErrAudience
	}
	if c.ExpiresAt == nil || c.Issuer == "" || noAud {
		// Every access token carries them (RFC 9068 §2.2).
		return ErrMalformed
	}
	return nil
}
