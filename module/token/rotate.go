package token

import (
	"context"
	"errors"
	"time"

	"github.com/scopegate/scopegate/module/store"
)

// Rotation asks for a new signing key.
type Rotation struct {
	// Prepublish is how long the new key is in the JWKS before it signs
	// (the app's key_prepublish): longer than any client may cache the
	// JWKS, so a client that verifies tokens itself knows the key before it
	// meets a token signed with it.
	Prepublish time.Duration
	// Overlap is how long the keys it replaces keep verifying once it
	// signs (key_overlap): at least the longest token lifetime.
	Overlap time.Duration
	// Emergency makes the new key sign at once, skipping Prepublish, and
	// replaces a key still pending. Verifiers that cache the JWKS refuse
	// the new key's tokens until they refetch it.
	Emergency bool
	// RetireOld (emergency only) makes the replaced keys stop verifying at
	// once, for a key that may be compromised: their tokens are refused.
	RetireOld bool
}

// Key states, as KeyInfo.State reports them.
const (
	KeyPending = "pending" // published, signs from ActivatesAt
	KeySigning = "signing"
	KeyRetired = "retired" // verifies until VerifiesUntil
)

// KeyInfo describes one key of the ring.
type KeyInfo struct {
	KID         string
	State       string
	ActivatesAt time.Time
	// RetiresAt is when the key stops signing (zero: not scheduled).
	RetiresAt time.Time
	// VerifiesUntil is when it stops verifying (zero: not scheduled).
	VerifiesUntil time.Time
}

// ErrRetireNeedsEmergency refuses RetireOld without Emergency: the old key
// signs until the new one activates, so its tokens must keep verifying.
var ErrRetireNeedsEmergency = errors.New("retiring the old keys at once needs an emergency rotation")

// Rotate makes a new signing key. It is published at once and signs after
// rot.Prepublish, when the key signing until then retires; that one keeps
// verifying for rot.Overlap. A rotation while a key is still pending fails
// with a *store.PendingKeyError unless rot.Emergency. It returns the new key.
func (r *KeyRing) Rotate(ctx context.Context, rot Rotation, a store.Actor) (KeyInfo, error) {
	if rot.RetireOld && !rot.Emergency {
		return KeyInfo{}, ErrRetireNeedsEmergency
	}
	k, err := r.newKey()
	if err != nil {
		return KeyInfo{}, err
	}
	now := *k.ActivatesAt // newKey's: the ring's clock
	if !rot.Emergency {
		activates := now.Add(rot.Prepublish)
		k.ActivatesAt = &activates
	}
	oldUntil := k.ActivatesAt.Add(rot.Overlap)
	if rot.RetireOld {
		oldUntil = now
	}
	err = r.store.RotateSigningKey(ctx, store.KeyRotation{Next: k, Now: now, VerifyOldUntil: oldUntil, ReplacePending: rot.Emergency}, a)
	if err != nil {
		return KeyInfo{}, err
	}
	if err := r.Load(ctx); err != nil {
		return KeyInfo{}, err
	}
	// The state as the ring now has it: a rotation that committed after
	// this one, at the same moment on another node say, supersedes it, and
	// "signing" would send the operator after a key that never signs.
	st := r.state.Load()
	state := KeyRetired
	if rk, ok := st.verify[k.KID]; ok && (rk.retires.IsZero() || rk.retires.After(rk.activates)) {
		// It will sign, or does, unless it was superseded.
		state = KeyPending
		if !k.ActivatesAt.After(now) {
			state = KeyRetired
			if signing, _ := st.signer(r.now()); signing == k.KID {
				state = KeySigning
			}
		}
	}
	return KeyInfo{KID: k.KID, State: state, ActivatesAt: *k.ActivatesAt}, nil
}

// List reloads the ring from the store and describes its keys, newest
// activation first.
func (r *KeyRing) List(ctx context.Context) ([]KeyInfo, error) {
	if err := r.Load(ctx); err != nil {
		return nil, err
	}
	st, now := r.state.Load(), r.now()
	signing, _ := st.signer(now)
	out := make([]KeyInfo, 0, len(st.byActivation))
	for _, kid := range st.byActivation {
		k := st.verify[kid]
		if !k.verifies(now) {
			continue
		}
		info := KeyInfo{KID: kid, State: KeyRetired, ActivatesAt: k.activates, RetiresAt: k.retires, VerifiesUntil: k.until}
		switch {
		case kid == signing:
			info.State = KeySigning
		case k.signs(now) && now.Before(k.activates):
			info.State = KeyPending
		}
		out = append(out, info)
	}
	return out, nil
}
