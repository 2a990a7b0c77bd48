package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// tenantNamespace is the UUIDv5 namespace that names tenants whose id is
// not itself a UUID. It never changes: a change would change every such
// tenant's UUID.
var tenantNamespace = uuid.MustParse("6f1c2f9e-2d7b-5a43-9c1e-5c0b7a3e9d21")

// TenantUUID names a tenant by a UUID, for APIs that document their
// customers as UUIDs (Bits' "bits:customer::<uuid>"). A tenant id that is a
// UUID (the admin API's default) is its own UUID; any other id ("default",
// "acme") gets a stable UUIDv5 derived from it, so the answer never changes
// and needs no stored column.
func TenantUUID(tenantID string) string {
	if u, err := uuid.Parse(tenantID); err == nil && len(tenantID) == 36 {
		return u.String()
	}
	return uuid.NewSHA1(tenantNamespace, []byte(tenantID)).String()
}

// CheckTenantID refuses a new tenant id that would share its TenantUUID
// with another tenant: a UUID id names itself, so it must be written in
// the canonical lower case (an id differing only in case would be a second
// tenant with the same UUID), and must not be a version-5 UUID, the kind
// derived for every other id (it could be another tenant's, "default"'s
// say). Tenants created before this check are left as they are.
func CheckTenantID(id string) error {
	u, err := uuid.Parse(id)
	if err != nil || len(id) != 36 {
		return nil // not a UUID: it gets a derived one
	}
	if id != u.String() {
		return fmt.Errorf("a UUID tenant id must be written in lower case (%s)", u.String())
	}
	if u.Version() == 5 {
		return errors.New("a UUID tenant id must not be a version-5 UUID, the kind derived for tenant ids that are not UUIDs")
	}
	return nil
}

// TenantsAlike returns the groups of tenants that an older build let share
// a TenantUUID or differ only in letter case (CheckTenantID and CreateTenant
// refuse new ones): an upstream keyed on either may take each group for one
// tenant. Nil when there are none, as there should be.
func (s *Store) TenantsAlike(ctx context.Context) ([][]string, error) {
	var ids []string
	if err := s.DB.WithContext(ctx).Model(&Tenant{}).Pluck("id", &ids).Error; err != nil {
		return nil, translate(err)
	}
	slices.Sort(ids) // byte order, whatever the database's collation
	var out [][]string
	reported := map[string]bool{} // ids differing in case only may share the UUID too
	for _, key := range []func(string) string{TenantUUID, strings.ToLower} {
		groups := map[string][]string{}
		for _, id := range ids {
			groups[key(id)] = append(groups[key(id)], id)
		}
		for _, id := range ids {
			g := groups[key(id)]
			if len(g) > 1 && g[0] == id && !reported[strings.Join(g, "\x00")] {
				reported[strings.Join(g, "\x00")] = true
				out = append(out, g)
			}
		}
	}
	return out, nil
}
