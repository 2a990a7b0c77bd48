package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// badValues are ids and names no row can hold: a NUL byte, invalid UTF-8
// (what %00 and %ff decode to) and values longer than their columns.
var badValues = map[string]string{
	"NUL":           "c1\x00",
	"0xff":          "c1\xff",
	"lone 0xc3":     "\xc3",
	"65-char id":    strings.Repeat("a", 65),
	"201-char name": strings.Repeat("é", 201),
}

// lookups are the store's look-ups by values that come from outside, each
// called with v in every externally supplied position.
var lookups = map[string]func(ctx context.Context, s *store.Store, v string) error{
	"GetClient": func(ctx context.Context, s *store.Store, v string) error { _, err := s.GetClient(ctx, v); return err },
	"FindClientByName": func(ctx context.Context, s *store.Store, v string) error {
		_, err := s.FindClientByName(ctx, store.DefaultTenantID, v)
		return err
	},
	"FindClientByName/tenant": func(ctx context.Context, s *store.Store, v string) error {
		_, err := s.FindClientByName(ctx, v, "one")
		return err
	},
	"GetTenant": func(ctx context.Context, s *store.Store, v string) error { _, err := s.GetTenant(ctx, v); return err },
	"GetUser":   func(ctx context.Context, s *store.Store, v string) error { _, err := s.GetUser(ctx, v); return err },
	"FindUser": func(ctx context.Context, s *store.Store, v string) error {
		_, err := s.FindUser(ctx, store.DefaultTenantID, v)
		return err
	},
	"FindUser/tenant": func(ctx context.Context, s *store.Store, v string) error {
		_, err := s.FindUser(ctx, v, "alice")
		return err
	},
	"GetApp": func(ctx context.Context, s *store.Store, v string) error { _, err := s.GetApp(ctx, v); return err },
	"GetConnection/app": func(ctx context.Context, s *store.Store, v string) error {
		_, err := s.GetConnection(ctx, v, store.DefaultTenantID)
		return err
	},
	"GetConnection/tenant": func(ctx context.Context, s *store.Store, v string) error {
		_, err := s.GetConnection(ctx, "app", v)
		return err
	},
	"IsRevoked": func(ctx context.Context, s *store.Store, v string) error {
		if revoked, err := s.IsRevoked(ctx, v); err != nil || revoked {
			return errors.New("IsRevoked did not answer false, nil")
		}
		return store.ErrNotFound
	},
}

// Looking a row up by a value no row can hold (NUL, invalid UTF-8, longer
// than the column) answers ErrNotFound on both databases, never a database
// error (PostgreSQL refuses such query parameters), and without querying:
// the answer is the same once the database is closed. The 201-character
// name is 402 bytes, so the limit counts characters, as the columns do.
func TestLookupsRefuseUnstorableValues(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		seed(t, s)
		check := func(t *testing.T) {
			for lname, lookup := range lookups {
				for vname, v := range badValues {
					if lname == "FindClientByName" || lname == "FindUser" {
						if vname == "65-char id" {
							continue // a name may be that long
						}
					}
					if err := lookup(ctx, s, v); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("%s(%s): err = %v, want ErrNotFound", lname, vname, err)
					}
				}
			}
		}
		t.Run("open", check)

		// Control: the ordinary look-ups work, and a 200-character name
		// of two-byte characters still reaches the database.
		if _, err := s.GetClient(ctx, "c1"); err != nil {
			t.Fatalf("GetClient(c1) = %v", err)
		}
		if _, err := s.FindClientByName(ctx, store.DefaultTenantID, strings.Repeat("é", 200)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("FindClientByName(200 × é) = %v, want ErrNotFound from the database", err)
		}

		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetClient(ctx, "c1"); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("control: GetClient on a closed database = %v, want a database error", err)
		}
		t.Run("closed", check)
	})
}
