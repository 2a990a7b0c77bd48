package store

import "context"

// WithExecMode is withExecMode, for the external tests.
var WithExecMode = withExecMode

// SaveAuthCode stores a code with no grant behind it (the authorize
// endpoint saves through SaveGrantedAuthCode), for the external tests that
// set codes up directly.
func (s *Store) SaveAuthCode(ctx context.Context, c *AuthCode) error {
	c.ExpiresAt = c.ExpiresAt.UTC()
	return translate(s.DB.WithContext(ctx).Create(c).Error)
}

// LockRevocationGroup is lockGroup, for the external tests that hold a
// revocation group to stop a revoker at a known point.
var LockRevocationGroup = lockGroup
