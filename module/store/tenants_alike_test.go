package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Tenants an older build let share a tenant UUID (a UUID id in two letter
// cases) or differ only in case are listed once per group, each group in id
// order; tenants apart are not listed.
func TestTenantsAlike(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		if groups, err := s.TenantsAlike(ctx); err != nil || groups != nil {
			t.Fatalf("a fresh database: %v, %v", groups, err)
		}
		// As an older build wrote them, past today's checks.
		for _, id := range []string{"acme", "Acme", "globex", "6f1c2f9e-2d7b-4a43-9c1e-5c0b7a3e9d2a", "6F1C2F9E-2D7B-4A43-9C1E-5C0B7A3E9D2A"} {
			if err := s.DB.Create(&store.Tenant{ID: id, Name: "n-" + id}).Error; err != nil {
				t.Fatal(err)
			}
		}
		groups, err := s.TenantsAlike(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := [][]string{{"6F1C2F9E-2D7B-4A43-9C1E-5C0B7A3E9D2A", "6f1c2f9e-2d7b-4a43-9c1e-5c0b7a3e9d2a"}, {"Acme", "acme"}}
		if !slices.EqualFunc(groups, want, slices.Equal[[]string]) {
			t.Fatalf("groups %q, want %q", groups, want)
		}
	})
}
