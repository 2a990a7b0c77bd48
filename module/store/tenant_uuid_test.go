package store

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TenantUUID keeps a UUID tenant id as it is (lower-cased), and gives any
// other id a stable, well-formed UUID of its own, different per id.
func TestTenantUUID(t *testing.T) {
	id := "E0D429F2-635B-418C-8B74-4A554F82C0BC"
	if got := TenantUUID(id); got != "e0d429f2-635b-418c-8b74-4a554f82c0bc" {
		t.Errorf("TenantUUID(%q) = %q", id, got)
	}
	seen := map[string]string{}
	for _, id := range []string{DefaultTenantID, "acme", "Acme", "{e0d429f2-635b-418c-8b74-4a554f82c0bc}", "urn:uuid:e0d429f2-635b-418c-8b74-4a554f82c0bc"} {
		got := TenantUUID(id)
		if _, err := uuid.Parse(got); err != nil || len(got) != 36 {
			t.Errorf("TenantUUID(%q) = %q, not a UUID", id, got)
		}
		if got != TenantUUID(id) {
			t.Errorf("TenantUUID(%q) is not stable", id)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("TenantUUID(%q) = TenantUUID(%q)", id, other)
		}
		seen[got] = id
	}
}

// CheckTenantID refuses the UUID ids that would share a TenantUUID with
// another tenant (an upper-case copy, a derived UUIDv5) and accepts the
// rest, so every tenant it let in has a TenantUUID of its own.
func TestCheckTenantID(t *testing.T) {
	random := uuid.NewString()
	for _, id := range []string{strings.ToUpper(random), TenantUUID(DefaultTenantID), TenantUUID("acme")} {
		if CheckTenantID(id) == nil {
			t.Errorf("CheckTenantID(%q) accepted it", id)
		}
	}
	seen := map[string]string{}
	for _, id := range []string{random, DefaultTenantID, "acme", "Acme", "0b9e3a52-7c1d-4f3e-9a0b-2f4c6d8e0a1b", strings.ReplaceAll(random, "-", "")} {
		if err := CheckTenantID(id); err != nil {
			t.Errorf("CheckTenantID(%q) = %v", id, err)
		}
		if other, dup := seen[TenantUUID(id)]; dup {
			t.Errorf("TenantUUID(%q) = TenantUUID(%q)", id, other)
		}
		seen[TenantUUID(id)] = id
	}
}
