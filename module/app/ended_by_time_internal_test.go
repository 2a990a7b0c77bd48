package app

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

// During a rolling upgrade a node of a build from before token generations
// ends a client's tokens by recording the time alone: tokens issued up to
// that second are ended, later ones are not, and once the client has a
// generation (this build's revocations) the time no longer decides.
func TestEndedByTime(t *testing.T) {
	revoked := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration, gen int) *token.Claims {
		c := &token.Claims{Generation: gen}
		c.IssuedAt = jwt.NewNumericDate(revoked.Add(d))
		return c
	}
	for _, tc := range []struct {
		name    string
		claims  *token.Claims
		client  store.Client
		refused bool
	}{
		{"issued before the old node's revocation", at(-time.Minute, 0), store.Client{TokensRevokedAt: &revoked}, true},
		{"issued in the same second", at(0, 0), store.Client{TokensRevokedAt: &revoked}, true},
		{"issued after", at(time.Second, 0), store.Client{TokensRevokedAt: &revoked}, false},
		{"never revoked", at(-time.Minute, 0), store.Client{}, false},
		{"revoked by this build (a generation)", at(time.Second, 1), store.Client{TokensRevokedAt: &revoked, TokenGeneration: 1}, false},
	} {
		if got := endedByTime(tc.claims, &tc.client); got != tc.refused {
			t.Errorf("%s: ended = %v, want %v", tc.name, got, tc.refused)
		}
	}
}
