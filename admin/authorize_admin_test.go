package admin

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/web"
)

func init() { web.PasswordCost = 4 } // the minimum: tests check behaviour, not cost

// A password given to POST /users or PATCH /users/{id} is stored as a
// bcrypt hash of the password, never shown; a weak one is a 400
// naming "password"; "" removes it.
func TestUserPasswords(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		w := e.want(e.do("POST", "/users", e.super, map[string]any{"username": "ada", "password": "correct horse battery"}), http.StatusCreated)
		if strings.Contains(w.Body.String(), "password") || strings.Contains(w.Body.String(), "$2") {
			t.Fatalf("the answer shows the password or its hash: %s", w.Body.String())
		}
		ada := decode[userView](t, w)
		stored, _ := e.app.Store().GetUser(ctx, ada.ID)
		if !passwordIs(stored.PasswordHash, "correct horse battery") {
			t.Fatalf("stored hash %q does not check", stored.PasswordHash)
		}
		p := problemOf(t, e.do("POST", "/users", e.super, map[string]any{"username": "bob", "password": "short"}), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"password"}) {
			t.Fatalf("weak password on create: fields %v", fields(p))
		}
		p = problemOf(t, e.do("PATCH", "/users/"+ada.ID, e.super, map[string]any{"password": "tiny"}), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"password"}) {
			t.Fatalf("weak password on patch: fields %v", fields(p))
		}
		w = e.want(e.do("PATCH", "/users/"+ada.ID, e.super, map[string]any{"password": "a new passphrase"}), http.StatusOK)
		if strings.Contains(w.Body.String(), "$2") {
			t.Fatalf("patch answer shows the hash: %s", w.Body.String())
		}
		stored, _ = e.app.Store().GetUser(ctx, ada.ID)
		if !passwordIs(stored.PasswordHash, "a new passphrase") || passwordIs(stored.PasswordHash, "correct horse battery") {
			t.Fatal("the password was not replaced")
		}
		e.want(e.do("PATCH", "/users/"+ada.ID, e.super, map[string]any{"password": ""}), http.StatusOK)
		if stored, _ = e.app.Store().GetUser(ctx, ada.ID); stored.PasswordHash != "" {
			t.Fatalf("empty password did not remove the hash: %q", stored.PasswordHash)
		}
		audit, _, _ := e.app.Store().ListAudit(ctx, "", store.Page{})
		if strings.Contains(audit[0].Detail, "$2") || audit[0].Action != "user.password" {
			t.Fatalf("audit of the password change: %+v", audit[0])
		}
	})
}

// implicit_grant is on for new clients, can be turned off on create or by
// PATCH, and is stored as the client's DisableImplicit.
func TestClientImplicitGrant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		on := e.create(e.super, map[string]any{"name": "on", "scopes": []string{"demo.read"}})
		if !on.ImplicitGrant {
			t.Fatal("implicit_grant is not on by default")
		}
		off := e.create(e.super, map[string]any{"name": "off", "scopes": []string{"demo.read"}, "implicit_grant": false})
		if off.ImplicitGrant {
			t.Fatal("implicit_grant false on create was ignored")
		}
		got := decode[clientView](t, e.want(e.do("PATCH", "/clients/"+on.ClientID, e.super, map[string]any{"implicit_grant": false}), http.StatusOK))
		if got.ImplicitGrant {
			t.Fatal("PATCH implicit_grant false was ignored")
		}
		if c, _ := e.app.Store().GetClient(ctx, on.ClientID); !c.DisableImplicit {
			t.Fatal("DisableImplicit not stored")
		}
		got = decode[clientView](t, e.want(e.do("PATCH", "/clients/"+on.ClientID, e.super, map[string]any{"implicit_grant": true}), http.StatusOK))
		if !got.ImplicitGrant {
			t.Fatal("PATCH implicit_grant true was ignored")
		}
	})
}

// DELETE /users/{id}/consents/{client_id} forgets a consent (204), is 404
// when there is none, and a tenant admin cannot reach another tenant's user.
func TestRevokeConsent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		u := e.user(store.DefaultTenantID, "ada")
		if err := e.app.Store().SaveConsent(ctx, u.ID, "client-1", []string{"demo.read"}); err != nil {
			t.Fatal(err)
		}
		if err := e.app.Store().SaveRefreshToken(ctx, &store.RefreshToken{Digest: store.Digest("r"), FamilyID: "f",
			ClientID: "client-1", UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}, ""); err != nil {
			t.Fatal(err)
		}
		e.tenant("acme")
		other, _ := e.adminToken("acme", scope.TenantAdmin)
		problemOf(t, e.do("DELETE", "/users/"+u.ID+"/consents/client-1", other, nil), http.StatusNotFound)
		e.want(e.do("DELETE", "/users/"+u.ID+"/consents/client-1", e.super, nil), http.StatusNoContent)
		if _, err := e.app.Store().GetConsent(ctx, u.ID, "client-1"); err == nil {
			t.Fatal("consent survived")
		}
		if _, err := e.app.Store().UseRefreshToken(ctx, store.Digest("r"), time.Now(), nil); err == nil {
			t.Fatal("refresh token survived")
		}
		problemOf(t, e.do("DELETE", "/users/"+u.ID+"/consents/client-1", e.super, nil), http.StatusNotFound)
		problemOf(t, e.do("DELETE", "/users/nope/consents/client-1", e.super, nil), http.StatusNotFound)
	})
}
