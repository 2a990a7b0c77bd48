package store

import "github.com/google/uuid"

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
