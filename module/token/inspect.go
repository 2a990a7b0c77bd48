package token

import (
	"context"

	"github.com/golang-jwt/jwt/v5"
)

// inspector checks signatures only: an expired token, or one for another
// issuer or audience, still says who it was issued to.
var inspector = jwt.NewParser(jwt.WithValidMethods([]string{Algorithm}), jwt.WithoutClaimsValidation())

// Inspect returns the claims of raw when its signature verifies with a key
// of the ring that still verifies, without checking its times, issuer or
// audience: for logging who a refused token belonged to. It never makes a
// token acceptable.
func (v *Verifier) Inspect(ctx context.Context, raw string) (*Claims, bool) {
	var c Claims
	_, err := inspector.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != Type && typ != "application/"+Type {
			return nil, ErrType
		}
		kid, _ := t.Header["kid"].(string)
		return v.Ring.publicKey(ctx, kid)
	})
	if err != nil {
		return nil, false
	}
	return &c, true
}
