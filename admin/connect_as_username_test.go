package admin

import (
	"net/http"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// connect_as_user_id takes a username too, as user_id at the token
// endpoint and the impersonation header do (the seeds red team's
// `--connect-as-user-id ada` was "no such user"): the client stores the
// user's id. On a PATCH as on create; a username of another tenant is
// still "no such user in the client's tenant".
func TestConnectAsByUsername(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ada := e.user(store.DefaultTenantID, "ada")
		bob := e.user(store.DefaultTenantID, "bob")
		e.tenant("other")
		e.user("other", "olga")

		c := e.create(e.super, map[string]any{"name": "k", "scopes": []string{"demo.read"}, "connect_as_user_id": "ada"})
		if c.ConnectAsUserID == nil || *c.ConnectAsUserID != ada.ID {
			t.Fatalf("connect_as_user_id by username: %v, want ada's id %s", c.ConnectAsUserID, ada.ID)
		}
		v := decode[clientView](t, e.want(e.do("PATCH", "/clients/"+c.ClientID, e.super, map[string]any{"connect_as_user_id": "bob"}), http.StatusOK))
		if v.ConnectAsUserID == nil || *v.ConnectAsUserID != bob.ID {
			t.Fatalf("PATCH connect_as_user_id by username: %v, want bob's id %s", v.ConnectAsUserID, bob.ID)
		}
		p := problemOf(t, e.do("POST", "/clients", e.super, map[string]any{"name": "k2", "scopes": []string{"demo.read"}, "connect_as_user_id": "olga"}), http.StatusBadRequest)
		if fields(p)[0] != "connect_as_user_id" {
			t.Fatalf("another tenant's username: %+v", p)
		}
	})
}
