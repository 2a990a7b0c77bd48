package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/token"
)

// Revocations of one client's tokens for one subject are bounded: up to the
// bound each is a row (and an entry in each node's memory); the revocation
// past it replaces them by a watermark that ends every token of that client
// and subject issued up to a second before the newest revoked one. Checked:
// no watermark at the bound, nor when a token is revoked twice; past it, the
// rows and both nodes' memory shrink to the newest second's; every revoked
// token stays refused on the revoking node, on another node (through the
// change feed) and on a node started later; a token of that subject issued
// earlier and never revoked is refused too, one issued in the newest
// revoked token's second still verifies, and so do the same client's tokens
// for another user and another client's tokens for the same user.
func TestRevocationsPastTheBoundBecomeAWatermark(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		const kept = 5
		a := apptest.Open(t, driver, noPolling)
		b := openOn(t, driver, a.Database.DSN, noPolling)
		a.Store().SetRevocationsKept(kept)
		c, _ := newClient(t, a, "revoking-in-a-loop")
		other, _ := newClient(t, a, "another-client")
		u1, u2 := newUser(t, a, "ada"), newUser(t, a, "grace")
		base := time.Now().Add(-time.Minute).Truncate(time.Second)

		var revoked []string
		var claims []*token.Claims
		for i := range kept + 1 { // one token per second, the last one past the bound
			raw, cl := mintIssued(t, a, c.ID, u1.ID, base.Add(time.Duration(i)*time.Second), time.Hour)
			revoked = append(revoked, raw)
			claims = append(claims, cl)
		}
		spare, _ := mintIssued(t, a, c.ID, u1.ID, base.Add(time.Second), time.Hour)      // earlier, never revoked
		fresh, _ := mintIssued(t, a, c.ID, u1.ID, base.Add(kept*time.Second), time.Hour) // the newest revoked one's second
		otherUser, _ := mintIssued(t, a, c.ID, u2.ID, base, time.Hour)                   // same client, another user
		otherClient, _ := mintIssued(t, a, other.ID, u1.ID, base, time.Hour)             // same user, another client
		twoLegged, _ := mintIssued(t, a, c.ID, "", base, time.Hour)                      // the client itself
		for _, raw := range []string{spare, fresh, otherUser, otherClient, twoLegged} {
			if _, err := a.Verify(ctx, raw); err != nil {
				t.Fatalf("control: %v", err)
			}
		}

		for _, cl := range claims[:kept] {
			if err := a.Revoke(ctx, cl); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Revoke(ctx, claims[0]); err != nil { // again: counted once
			t.Fatal(err)
		}
		if _, err := a.Store().Watermark(ctx, c.ID, u1.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("at the bound (a token revoked twice): watermark lookup = %v, want none", err)
		}
		if n, err := a.Store().RevocationCount(ctx, c.ID, u1.ID); err != nil || n != kept {
			t.Fatalf("at the bound: %d rows (%v), want %d", n, err, kept)
		}
		if _, err := a.Verify(ctx, spare); err != nil {
			t.Fatalf("at the bound, a token never revoked: %v", err)
		}

		if err := a.Revoke(ctx, claims[kept]); err != nil {
			t.Fatal(err)
		}
		w, err := a.Store().Watermark(ctx, c.ID, u1.ID)
		if err != nil || w.IssuedUpTo != base.Unix()+kept-1 {
			t.Fatalf("past the bound: watermark %+v (%v), want tokens up to %d ended", w, err, base.Unix()+kept-1)
		}
		if n, err := a.Store().RevocationCount(ctx, c.ID, u1.ID); err != nil || n != 1 {
			t.Fatalf("past the bound: %d rows kept (%v), want 1 (the newest second's)", n, err)
		}
		if err := b.Runtime().Poll(ctx); err != nil {
			t.Fatal(err)
		}
		late := openOn(t, driver, a.Database.DSN, noPolling)
		for name, n := range map[string]*app.App{"A (revoking)": a, "B (the feed)": b, "a later node": late} {
			if held := n.Runtime().HeldRevocations(); held != 1 {
				t.Errorf("%s holds %d revoked ids in memory, want 1", name, held)
			}
			for i, raw := range append(revoked, spare) {
				if _, err := n.Verify(ctx, raw); !errors.Is(err, app.ErrRevoked) {
					t.Errorf("%s: token %d of the group: Verify = %v, want ErrRevoked", name, i, err)
				}
			}
			for what, raw := range map[string]string{"issued in the newest revoked second": fresh,
				"the same client's for another user": otherUser, "another client's for the same user": otherClient,
				"the client's own 2-legged one": twoLegged} {
				if _, err := n.Verify(ctx, raw); err != nil {
					t.Errorf("%s: a token %s: %v, want it to verify", name, what, err)
				}
			}
		}
	})
}

// The tokens a client minted for users with its secret alone (naming them
// with user_id, or connecting as one) count as the client's own group,
// whatever user each names, so one client cannot keep a bound per user of
// its tenant: past the bound its self-minted tokens (and its 2-legged ones)
// of the older seconds end, while a token a user's sign-in granted stays.
// The watermark outlasts every revoked token it replaced, even one minted
// with a longer lifetime than any client may be given now. Revoking again a
// token the watermark ends records nothing and moves nothing.
func TestRevocationGroupsByWhoMinted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		const kept = 3
		a := apptest.Open(t, driver, noPolling)
		a.Store().SetRevocationsKept(kept)
		c, _ := newClient(t, a, "names-users")
		base := time.Now().Add(-time.Minute).Truncate(time.Second)
		named := func(c *token.Claims) { c.PlainUser = true }
		var raws []string
		var claims []*token.Claims
		for i := range kept + 1 {
			ttl := time.Hour
			if i == 0 {
				ttl = 3 * 365 * 24 * time.Hour
			}
			u := newUser(t, a, "user"+string(rune('a'+i)))
			raw, cl := mintWith(t, a, c.ID, u.ID, base.Add(time.Duration(i)*time.Second), ttl, named)
			raws, claims = append(raws, raw), append(claims, cl)
		}
		signedIn, _ := mintIssued(t, a, c.ID, claims[0].Subject, base, time.Hour) // a user's sign-in granted it
		own, _ := mintIssued(t, a, c.ID, "", base, time.Hour)                     // 2-legged, never revoked
		for _, cl := range claims {
			if err := a.Revoke(ctx, cl); err != nil {
				t.Fatal(err)
			}
		}
		w, err := a.Store().Watermark(ctx, c.ID, c.ID)
		if err != nil || w.IssuedUpTo != base.Unix()+kept-1 {
			t.Fatalf("watermark of the client's own group: %+v (%v), want tokens up to %d ended", w, err, base.Unix()+kept-1)
		}
		if !w.ExpiresAt.After(claims[0].ExpiresAt.Time) {
			t.Errorf("the watermark expires at %v, before the 3-year token it replaced (%v)", w.ExpiresAt, claims[0].ExpiresAt.Time)
		}
		for i, raw := range append(raws, own) {
			if _, err := a.Verify(ctx, raw); !errors.Is(err, app.ErrRevoked) {
				t.Errorf("token %d the client minted alone: Verify = %v, want ErrRevoked", i, err)
			}
		}
		if _, err := a.Verify(ctx, signedIn); err != nil {
			t.Errorf("a token a user's sign-in granted: %v, want it to verify", err)
		}
		if err := a.Revoke(ctx, claims[0]); err != nil {
			t.Fatal(err)
		}
		again, err := a.Store().Watermark(ctx, c.ID, c.ID)
		if n, cerr := a.Store().RevocationCount(ctx, c.ID, c.ID); err != nil || cerr != nil || n != 1 || again.IssuedUpTo != w.IssuedUpTo {
			t.Errorf("after revoking an ended token again: %d rows (%v), watermark %+v (%v); want 1 row and the watermark unmoved", n, cerr, again, err)
		}
	})
}
