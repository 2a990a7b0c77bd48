package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A public client holds no secret, also one an older build gave it at
// creation (or an older node's rotation during a roll): the next start
// forgets it, and so does any edit of a client stored public, making it
// confidential included. Such a secret, shipped in the app, would otherwise
// authenticate the client an admin believes confidential (upgrade red team).
func TestPublicClientsHoldNoSecret(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dsn, s := openByDSN(t, driver)
		defer s.Close()
		seed(t, s)
		until := time.Now().Add(time.Hour).UTC()
		old := func(id string) {
			t.Helper()
			c := &store.Client{ID: id, TenantID: store.DefaultTenantID, Name: id, AuthMethod: store.AuthUser, Public: true,
				AllowedScopes: store.Strings{"demo.read"}, DefaultScopes: store.Strings{"demo.read"}, OwnerID: "tester"}
			if err := s.CreateClient(ctx, c, admin); err != nil {
				t.Fatal(err)
			}
			// As an older build left it.
			err := s.DB.Model(&store.Client{}).Where("id = ?", id).UpdateColumns(map[string]any{
				"secret_digest": "d-" + id, "secret_ciphertext": []byte{1}, "previous_secret_digest": "p-" + id, "previous_secret_until": until}).Error
			if err != nil {
				t.Fatal(err)
			}
		}
		secretless := func(when, id string) {
			t.Helper()
			c, err := s.GetClient(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if c.SecretDigest != "" || len(c.SecretCiphertext) != 0 || c.PreviousSecretDigest != "" || c.PreviousSecretUntil != nil {
				t.Fatalf("%s: client %s still holds a secret: %q %v %q %v", when, id, c.SecretDigest, c.SecretCiphertext, c.PreviousSecretDigest, c.PreviousSecretUntil)
			}
		}

		old("pub-edited")
		c, err := s.GetClient(ctx, "pub-edited")
		if err != nil {
			t.Fatal(err)
		}
		c.Public = false
		if err := s.UpdateClientSettings(ctx, c, store.DefaultTenantID, admin); err != nil {
			t.Fatal(err)
		}
		secretless("made confidential", "pub-edited")

		old("pub-restarted")
		again, err := store.Open(driver, dsn) // the next start migrates
		if err != nil {
			t.Fatal(err)
		}
		again.Close()
		secretless("after a restart", "pub-restarted")
		if c, err := s.GetClient(ctx, "c1"); err != nil || c.SecretDigest != "d1" {
			t.Fatalf("a confidential client lost its secret: %v, %v", c, err)
		}
	})
}
