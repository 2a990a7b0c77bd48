package token

import (
	"crypto/ed25519"
	"crypto/sha512"
	"crypto/subtle"

	"filippo.io/edwards25519"
)

// ownKey confirms signatures made by a key whose private half this node
// holds, without the cost of an Ed25519 verification.
//
// Ed25519 signing (RFC 8032 §5.1.6) is deterministic: for message M the
// signer derives r = SHA-512(prefix ‖ M) from the secret prefix, publishes
// R = [r]B and S = r + SHA-512(R ‖ A ‖ M)·s mod L, where s is the secret
// scalar. A holder of prefix and s can therefore recompute the one S that
// goes with the presented R and compare it: two hashes and one scalar
// multiply-add, against the two point multiplications of a verification.
//
// Nothing weaker is accepted: passing requires S = r + H(R′ ‖ A ‖ M)·s for
// the presented R′, which whoever does not know s cannot produce for any
// message, just as they cannot produce a valid signature (a genuine
// signature reveals r + h·s for unknown r and s and nothing that yields
// another). The check is stricter than verification only for signatures of
// this key made with another nonce, which a deterministic signer never
// makes: an S that is not reduced, an R that is not a canonical point, a
// tampered byte anywhere all fail here as they fail ed25519.Verify. It
// takes the same time whether the signature is good or bad.
type ownKey struct {
	pub    ed25519.PublicKey
	prefix [32]byte
	s      edwards25519.Scalar
}

// newOwnKey precomputes what confirming needs from priv, for pub, the
// public key the ring publishes and verifies the key's tokens with. It
// returns nil, leaving the key to ed25519.Verify, unless a self-test
// signature of a probe both verifies with pub and is confirmed: a future
// signer that randomised its nonces must not lock out every token, and a
// key row whose public half is not its private key's must refuse every
// token as verification with pub does, not confirm them with the private
// half's own public key.
func newOwnKey(pub ed25519.PublicKey, priv ed25519.PrivateKey) *ownKey {
	h := sha512.Sum512(priv.Seed())
	k := &ownKey{pub: pub}
	if _, err := k.s.SetBytesWithClamping(h[:32]); err != nil {
		return nil
	}
	copy(k.prefix[:], h[32:])
	probe := []byte("scopegate own-key self-test")
	sig := ed25519.Sign(priv, probe)
	if !ed25519.Verify(pub, probe, sig) || !k.confirms(probe, sig) {
		return nil
	}
	return k
}

// confirms reports whether sig is the signature of message by this key.
func (k *ownKey) confirms(message, sig []byte) bool {
	if len(sig) != ed25519.SignatureSize {
		return false
	}
	var digest [sha512.Size]byte
	mh := sha512.New()
	mh.Write(k.prefix[:])
	mh.Write(message)
	r, err := edwards25519.NewScalar().SetUniformBytes(mh.Sum(digest[:0]))
	if err != nil {
		return false
	}
	kh := sha512.New()
	kh.Write(sig[:32])
	kh.Write(k.pub)
	kh.Write(message)
	h, err := edwards25519.NewScalar().SetUniformBytes(kh.Sum(digest[:0]))
	if err != nil {
		return false
	}
	want := edwards25519.NewScalar().MultiplyAdd(h, &k.s, r)
	return subtle.ConstantTimeCompare(want.Bytes(), sig[32:]) == 1
}
