package admin

import (
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
)

// A client holding an admin scope must never carry one user's admin
// authority for somebody else. Its user-bound tokens get the power of the
// user they are bound to (authority.go), so the settings that choose that
// user are closed to it: it connects as nobody or as the user who created it
// (so an admin can make an API key for itself, and a tenant admin cannot make
// one that speaks as another admin), it does not take a user_id at the token
// endpoint, and it does not act on behalf of users.

// holdsAdminScope reports whether scopes give scopegate.admin or
// scopegate.tenant_admin, directly or through an implication.
func (h *Handler) holdsAdminScope(scopes []string) bool {
	return h.app.Catalogue().GivesAdmin(scopes)
}

// checkAdminClient names each setting of cl, a client holding an admin
// scope, that would let its tokens speak for a user other than its creator.
func checkAdminClient(f *fieldErrors, cl *store.Client) {
	if cl.ConnectAsUserID != nil && *cl.ConnectAsUserID != cl.OwnerID {
		f.add("connect_as_user_id", "a client holding %s or %s may connect only as the user who created it", scope.Admin, scope.TenantAdmin)
	}
	if cl.AllowUserTokens {
		f.add("allow_user_tokens", "must be false for a client holding %s or %s: its tokens would speak for any user it names", scope.Admin, scope.TenantAdmin)
	}
	if cl.AllowImpersonation {
		f.add("allow_impersonation", "must be false for a client holding %s or %s: it would act as any user of its tenant", scope.Admin, scope.TenantAdmin)
	}
}

// breaksAdminClientRules reports whether cl has a setting checkAdminClient
// refuses. Clients stored before the rules existed may have one; their
// user-bound tokens then carry no admin power.
func breaksAdminClientRules(cl *store.Client) bool {
	var f fieldErrors
	checkAdminClient(&f, cl)
	return len(f) > 0
}
