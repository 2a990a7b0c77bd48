package token

import (
	"crypto/ed25519"
	"encoding/base64"
	"time"
)

// JWK is one public key as published in the JWKS document.
type JWK struct {
	KeyType   string `json:"kty"`
	Curve     string `json:"crv"`
	X         string `json:"x"`
	KeyID     string `json:"kid"`
	Use       string `json:"use"`
	Algorithm string `json:"alg"`
}

// JWKS returns the document listing every key that verifies now (RFC 7517),
// the signing key first: the pre-published key that will sign next, and the
// retired keys whose overlap has not ended, follow.
func (r *KeyRing) JWKS() map[string][]JWK {
	st, now := r.state.Load(), r.now()
	signing, _ := st.signer(now)
	keys := make([]JWK, 0, len(st.verify))
	if k, ok := st.verify[signing]; ok {
		keys = append(keys, jwk(signing, k.pub))
	}
	for _, kid := range st.byActivation {
		if k := st.verify[kid]; kid != signing && k.verifies(now) {
			keys = append(keys, jwk(kid, k.pub))
		}
	}
	return map[string][]JWK{"keys": keys}
}

// JWKSMaxAge is how long a client may cache the JWKS (its Cache-Control
// max-age) when keys are pre-published for prepublish: half of it, at most
// five minutes. A client that fetched the document just before a rotation
// then refetches it with the new key in it while half of the delay is left,
// which covers the other nodes' pick-up (poll_interval), clock skew and
// clients that refresh late.
func JWKSMaxAge(prepublish time.Duration) time.Duration {
	return min(prepublish/2, 5*time.Minute).Truncate(time.Second)
}

func jwk(kid string, pub ed25519.PublicKey) JWK {
	return JWK{KeyType: "OKP", Curve: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), KeyID: kid, Use: "sig", Algorithm: Algorithm}
}
