package app

import (
	"context"
	"errors"
	"time"

	"github.com/scopegate/scopegate/module/secret"
	"github.com/scopegate/scopegate/module/store"
)

// ErrBadCredentials means the client id or secret is wrong. Which of the two
// is never told.
var ErrBadCredentials = errors.New("client authentication failed")

// AuthenticateClient checks a client id and secret in constant time; the
// previous secret works too during its grace period after a rotation.
//
// A node that has not read the change feed lately (feedStale) reads the
// client from the database, not its cache: the cached row may have been
// disabled, rotated or narrowed on another node meanwhile, and a token
// minted from it would outlive a partition on every node (multi-node red
// team: a cut-off node minted year-long tokens with a secret rotated away
// elsewhere). Cut off, the read fails (503); with a database that answers
// (the node's watcher merely held up, say by a cleanup waiting for a lock)
// the node goes on with the row as it stands.
func (a *App) AuthenticateClient(ctx context.Context, id, secretValue string) (*store.Client, error) {
	rt := a.runtime()
	if rt == nil {
		return nil, store.ErrNotOpen
	}
	lookup := rt.Client
	if rt.feedStale(rt.feedAge(time.Now())) {
		lookup = rt.storedClient
	}
	c, err := lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if c == nil {
		rt.Sealer.Matches(secretValue, "0") // spend the same time as a real check
		return nil, ErrBadCredentials
	}
	ok := rt.Sealer.Matches(secretValue, c.SecretDigest)
	if !ok && c.PreviousSecretDigest != "" && c.PreviousSecretUntil != nil && time.Now().Before(*c.PreviousSecretUntil) {
		ok = rt.Sealer.Matches(secretValue, c.PreviousSecretDigest)
	}
	if !ok {
		return nil, ErrBadCredentials
	}
	if c.Disabled {
		return nil, ErrClientDisabled
	}
	return c, nil
}

// NewSecret makes a fresh secret for a client: the plaintext to show once,
// its lookup digest and its ciphertext bound to the client id.
func (a *App) NewSecret(clientID string) (plain, digest string, ciphertext []byte, err error) {
	plain = secret.NewClientSecret()
	ciphertext, err = a.runtime().Sealer.Seal([]byte(plain), []byte(clientID))
	return plain, a.runtime().Sealer.Digest(plain), ciphertext, err
}

// RevealSecret decrypts a client's current secret for its owner.
func (a *App) RevealSecret(c *store.Client) (string, error) {
	b, err := a.runtime().Sealer.Open(c.SecretCiphertext, []byte(c.ID))
	return string(b), err
}

// NewClientID returns a fresh, URL- and Basic-auth-safe client id.
func NewClientID() string { return "sg_" + secret.NewToken(16) }
