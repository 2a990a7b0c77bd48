package token

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
)

// Sign mints a JWT for c with the key that signs now.
//
// It writes the token itself rather than through jwt.Token.SignedString,
// byte for byte the same (TestSignIsWhatTheJWTLibraryMakes): the library
// marshals a header map and concatenates four strings for every token,
// while the header here is the same for every token of a key, so its
// segment is encoded once, when the ring loads the key (headerSegment), and the token is built in one
// buffer. Issuance signs on every request; its garbage is GC work that every
// request in flight waits on.
func (r *KeyRing) Sign(c *Claims) (string, error) {
	st := r.state.Load()
	kid, priv := st.signer(r.now())
	if priv == nil {
		return "", errors.New("no signing key loaded")
	}
	head := st.verify[kid].header
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signed := len(head) + 1 + enc.EncodedLen(len(payload))
	buf := make([]byte, signed, signed+1+enc.EncodedLen(ed25519.SignatureSize))
	copy(buf, head)
	buf[len(head)] = '.'
	enc.Encode(buf[len(head)+1:], payload)
	sig := ed25519.Sign(priv, buf)
	buf = buf[:cap(buf)]
	buf[signed] = '.'
	enc.Encode(buf[signed+1:], sig)
	return string(buf), nil
}

// headerSegment is the encoded JOSE header of tokens signed by kid: what
// jwt.Token makes of {"alg":"EdDSA","kid":kid,"typ":"at+jwt"} (a map, so its
// keys come sorted).
func headerSegment(kid string) string {
	h, _ := json.Marshal(struct { // strings only: no error
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{Algorithm, kid, Type})
	return base64.RawURLEncoding.EncodeToString(h)
}
