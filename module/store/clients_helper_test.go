package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/scopegate/scopegate/module/store"
)

// createTenants creates the tenants named, the default one included if
// asked (it may exist already).
func createTenants(t *testing.T, s *store.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.CreateTenant(context.Background(), &store.Tenant{ID: id, Name: id}, admin); err != nil && !errors.Is(err, store.ErrConflict) {
			t.Fatal(err)
		}
	}
}

// createClients creates clients of the default tenant with these ids, each
// allowed demo.read, owned by "tester", with a placeholder secret.
func createClients(t *testing.T, s *store.Store, authMethod string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		c := &store.Client{ID: id, TenantID: store.DefaultTenantID, Name: id, AuthMethod: authMethod,
			AllowedScopes: store.Strings{"demo.read"}, DefaultScopes: store.Strings{"demo.read"},
			OwnerID: "tester", SecretDigest: "d" + id, SecretCiphertext: []byte{1}}
		if err := s.CreateClient(context.Background(), c, admin); err != nil {
			t.Fatal(err)
		}
	}
}
