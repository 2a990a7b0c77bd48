package admin

import (
	"net/http"
	"testing"

	"github.com/scopegate/scopegate/module/store/storetest"
)

// What a super admin disables only a super admin enables again: an
// operator who suspends an app's credentials (the client, or a tenant's
// pair through /integrations) or a user keeps them suspended whatever the
// tenant's admins do. The tenant admin's restore (or delete, which would
// let the tenant allow the app anew) is 403 and the row stays disabled, even
// after the tenant admin disables it once more (that does not clear the
// mark); a super admin's disable marks a user the tenant admin had disabled
// already. What a tenant admin disabled, it restores itself,
// and after the super admin's restore the tenant admin disables and
// restores as before.
func TestWhatASuperAdminDisabledStaysDisabled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newIntegrationsEnv(t, driver)
		status := func(id string) string {
			return decode[clientView](t, e.want(e.do("GET", "/clients/"+id, e.super, nil), http.StatusOK)).Status
		}
		pair := decode[pairView](t, e.want(e.do("POST", "/integrations/"+e.reporter.ID+"/allow", e.t1, map[string]any{"scopes": []string{"demo.read"}}), http.StatusCreated))
		own := e.create(e.t1, map[string]any{"name": "own", "scopes": []string{"demo.read"}})

		// The tenant admin's own disable: it restores it itself.
		e.want(e.do("POST", "/clients/"+own.ClientID+"/disable", e.t1, nil), http.StatusOK)
		e.want(e.do("POST", "/clients/"+own.ClientID+"/restore", e.t1, nil), http.StatusOK)

		// The super admin's disable, through either door.
		e.want(e.do("POST", "/clients/"+own.ClientID+"/disable", e.super, nil), http.StatusOK)
		e.want(e.do("POST", "/integrations/"+e.reporter.ID+"/disable?tenant_id="+e.t1Tenant, e.super, nil), http.StatusOK)
		e.want(e.do("POST", "/clients/"+own.ClientID+"/disable", e.t1, nil), http.StatusOK) // already disabled
		for _, path := range []string{"/clients/" + own.ClientID + "/restore", "/clients/" + pair.ClientID + "/restore", "/integrations/" + e.reporter.ID + "/restore"} {
			problemOf(t, e.do("POST", path, e.t1, nil), http.StatusForbidden)
		}
		for _, id := range []string{own.ClientID, pair.ClientID} {
			if s := status(id); s != "disabled" {
				t.Fatalf("client %s is %s after the tenant admin's refused restore", id, s)
			}
			// Deleting it would let the tenant allow the app again and get
			// fresh credentials: refused too.
			problemOf(t, e.do("DELETE", "/clients/"+id, e.t1, nil), http.StatusForbidden)
			if s := status(id); s != "disabled" {
				t.Fatalf("client %s is %s after the tenant admin's refused delete", id, s)
			}
		}
		e.want(e.do("POST", "/clients/"+own.ClientID+"/restore", e.super, nil), http.StatusOK)
		e.want(e.do("POST", "/integrations/"+e.reporter.ID+"/restore?tenant_id="+e.t1Tenant, e.super, nil), http.StatusOK)
		e.want(e.do("POST", "/integrations/"+e.reporter.ID+"/disable", e.t1, nil), http.StatusOK)
		e.want(e.do("POST", "/integrations/"+e.reporter.ID+"/restore", e.t1, nil), http.StatusOK)
		if s := status(pair.ClientID); s != "active" {
			t.Fatalf("the pair is %s after the tenant admin restored its own disable", s)
		}

		// Users alike.
		u := decode[userView](t, e.want(e.do("POST", "/users", e.t1, map[string]any{"username": "worker"}), http.StatusCreated))
		e.want(e.do("PATCH", "/users/"+u.ID, e.t1, map[string]any{"disabled": true}), http.StatusOK)
		e.want(e.do("PATCH", "/users/"+u.ID, e.t1, map[string]any{"disabled": false}), http.StatusOK)
		e.want(e.do("PATCH", "/users/"+u.ID, e.super, map[string]any{"disabled": true}), http.StatusOK)
		problemOf(t, e.do("PATCH", "/users/"+u.ID, e.t1, map[string]any{"disabled": false}), http.StatusForbidden)
		if !e.storedUser(u.ID).Disabled {
			t.Fatal("the tenant admin enabled a user the super admin disabled")
		}
		e.want(e.do("PATCH", "/users/"+u.ID, e.t1, map[string]any{"display_name": "Still here"}), http.StatusOK)
		e.want(e.do("PATCH", "/users/"+u.ID, e.super, map[string]any{"disabled": false}), http.StatusOK)
		e.want(e.do("PATCH", "/users/"+u.ID, e.t1, map[string]any{"disabled": true}), http.StatusOK)
		e.want(e.do("PATCH", "/users/"+u.ID, e.t1, map[string]any{"disabled": false}), http.StatusOK)
		// The super admin's disable marks a user the tenant admin had
		// disabled already.
		e.want(e.do("PATCH", "/users/"+u.ID, e.t1, map[string]any{"disabled": true}), http.StatusOK)
		e.want(e.do("PATCH", "/users/"+u.ID, e.super, map[string]any{"disabled": true}), http.StatusOK)
		problemOf(t, e.do("PATCH", "/users/"+u.ID, e.t1, map[string]any{"disabled": false}), http.StatusForbidden)
	})
}
