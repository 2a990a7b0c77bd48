package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// The right id and secret authenticate; a wrong secret, an unknown client and
// an empty secret all fail with the same ErrBadCredentials; a disabled
// client with the right secret gets ErrClientDisabled, and with a wrong one
// still only ErrBadCredentials (a disabled client's existence is not told).
func TestAuthenticateClient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		c, secretValue := newClient(t, a, "authn")
		other, otherSecret := newClient(t, a, "other")

		got, err := a.AuthenticateClient(ctx, c.ID, secretValue)
		if err != nil || got.ID != c.ID {
			t.Fatalf("right secret: %+v, %v", got, err)
		}
		for name, tc := range map[string][2]string{
			"wrong secret":            {c.ID, secretValue[:42] + "x"},
			"empty secret":            {c.ID, ""},
			"another client's secret": {c.ID, otherSecret},
			"unknown client":          {"sg_nobody", secretValue},
			"empty id":                {"", secretValue},
		} {
			if got, err := a.AuthenticateClient(ctx, tc[0], tc[1]); !errors.Is(err, app.ErrBadCredentials) || got != nil {
				t.Errorf("%s: %v, %v; want ErrBadCredentials", name, got, err)
			}
		}

		if err := a.Store().SetClientDisabled(ctx, c.ID, true, tester); err != nil {
			t.Fatal(err)
		}
		if got, err := a.AuthenticateClient(ctx, c.ID, secretValue); !errors.Is(err, app.ErrClientDisabled) || got != nil {
			t.Fatalf("disabled client: %v, %v; want ErrClientDisabled", got, err)
		}
		if _, err := a.AuthenticateClient(ctx, c.ID, "wrong"); !errors.Is(err, app.ErrBadCredentials) {
			t.Fatalf("disabled client, wrong secret: %v; want ErrBadCredentials", err)
		}
		if _, err := a.AuthenticateClient(ctx, other.ID, otherSecret); err != nil {
			t.Fatalf("disabling one client affected another: %v", err)
		}
	})
}

// After a rotation with a grace period, the previous secret keeps working
// until the grace ends and is refused afterwards; without grace it stops at
// once; the new secret works throughout.
func TestAuthenticateClientSecretGrace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		c, first := newClient(t, a, "rotating")

		rotate := func(grace *time.Time) string {
			t.Helper()
			plain, digest, ct, err := a.NewSecret(c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Store().RotateSecret(ctx, c.ID, digest, ct, grace, tester); err != nil {
				t.Fatal(err)
			}
			return plain
		}
		auth := func(secretValue string) error {
			_, err := a.AuthenticateClient(ctx, c.ID, secretValue)
			return err
		}

		future := time.Now().Add(time.Hour)
		second := rotate(&future)
		if err := auth(first); err != nil {
			t.Fatalf("previous secret during grace: %v", err)
		}
		if err := auth(second); err != nil {
			t.Fatalf("new secret during grace: %v", err)
		}

		past := time.Now().Add(-time.Second)
		third := rotate(&past) // second becomes the previous secret, already expired
		if err := auth(second); !errors.Is(err, app.ErrBadCredentials) {
			t.Fatalf("previous secret after grace: %v; want ErrBadCredentials", err)
		}
		if err := auth(first); !errors.Is(err, app.ErrBadCredentials) {
			t.Fatalf("secret from two rotations ago: %v; want ErrBadCredentials", err)
		}
		if err := auth(third); err != nil {
			t.Fatalf("new secret: %v", err)
		}

		fourth := rotate(nil)
		if err := auth(third); !errors.Is(err, app.ErrBadCredentials) {
			t.Fatalf("previous secret, no grace: %v; want ErrBadCredentials", err)
		}
		if err := auth(fourth); err != nil {
			t.Fatalf("new secret, no grace: %v", err)
		}
		stored, err := a.Store().GetClient(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if revealed, err := a.RevealSecret(stored); err != nil || revealed != fourth {
			t.Fatalf("RevealSecret after rotations = %v (matches: %v)", err, revealed == fourth)
		}
	})
}

// NewSecret gives a 43-character secret whose digest matches it and whose
// ciphertext is bound to the client id; NewClientID gives distinct,
// URL-safe ids.
func TestNewSecretAndClientID(t *testing.T) {
	a := apptest.Open(t, "sqlite", noPolling)
	plain, digest, ct, err := a.NewSecret("sg_one")
	if err != nil || len(plain) != 43 || !a.Sealer().Matches(plain, digest) {
		t.Fatalf("NewSecret: %d chars, matches %v, err %v", len(plain), a.Sealer().Matches(plain, digest), err)
	}
	if strings.Contains(string(ct), plain) {
		t.Fatal("ciphertext contains the plaintext")
	}
	if b, err := a.Sealer().Open(ct, []byte("sg_one")); err != nil || string(b) != plain {
		t.Fatalf("ciphertext does not open for its client: %v", err)
	}
	if _, err := a.Sealer().Open(ct, []byte("sg_two")); err == nil {
		t.Fatal("ciphertext opens for another client id")
	}

	seen := map[string]bool{}
	for range 100 {
		id := app.NewClientID()
		if !strings.HasPrefix(id, "sg_") || len(id) != 3+22 || strings.ContainsAny(id, "+/=:") || seen[id] {
			t.Fatalf("bad or repeated client id %q", id)
		}
		seen[id] = true
	}
}

// A node that has not read the change feed for longer than readiness
// allows authenticates clients from the database, not its cache: a client
// disabled on another node meanwhile (here straight in its table, which this
// node's cache does not hear of) is refused, where a node up to date trusts
// its cache (multi-node red team: a cut-off node minted year-long tokens
// with a secret rotated away elsewhere; a review: refusing outright made a
// healthy node whose watcher waited on a lock answer 503).
func TestStaleNodeReadsTheClientFromTheDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling) // polls hourly: stale after ten hours
		c, secretValue := newClient(t, a, "authn")
		if _, err := a.AuthenticateClient(ctx, c.ID, secretValue); err != nil { // cached now
			t.Fatal(err)
		}
		// As another node's write reaches the database: no change this
		// node hears of until it reads the feed.
		if err := a.Store().DB.Model(&store.Client{}).Where("id = ?", c.ID).Update("disabled", true).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := a.AuthenticateClient(ctx, c.ID, secretValue); err != nil {
			t.Fatalf("an up-to-date node trusts its cache: %v", err)
		}
		a.Runtime().SetFeedRead(time.Now().Add(-11 * time.Hour))
		if got, err := a.AuthenticateClient(ctx, c.ID, secretValue); !errors.Is(err, app.ErrClientDisabled) || got != nil {
			t.Fatalf("a stale node: %v, %v; want the database's answer, ErrClientDisabled", got, err)
		}
	})
}
