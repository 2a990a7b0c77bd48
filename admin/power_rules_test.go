package admin

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// refusedToken fails unless tok carries no admin power: 403 with an
// insufficient_scope challenge.
func (e *env) refusedToken(tok string) {
	e.t.Helper()
	w := e.do("GET", "/users", tok, nil)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		e.t.Fatalf("status %d, challenge %q, want 403 insufficient_scope; body %s", w.Code, w.Header().Get("WWW-Authenticate"), w.Body.String())
	}
}

// storedUser reads a user the API made.
func (e *env) storedUser(id string) *store.User {
	e.t.Helper()
	u, err := e.app.Store().GetUser(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

var consoleClientID = regexp.MustCompile(`id="client_id" value="([^"]+)"`)

// Hole 1: a tenant admin of the default tenant cannot become a super admin
// through a user it makes. It may make admins of its tenant, never a super
// admin (create or promote). The admin it made signs in to the console with
// exactly the power the API gives it: a tenant admin of the default tenant,
// offered no scopegate.admin and refused when it asks for it (no client is
// made); its user-bound token with scopegate.admin is a tenant admin too.
// It may not reset the password of, disable, demote or revoke the consents
// of a super admin. The super admin level is given explicitly by a super
// admin (the bootstrap client), only in the default tenant (400 naming
// super_admin elsewhere), and that user is a super admin in the console and
// with its token alike.
func TestTenantAdminCannotMakeSuperAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		e.tenant("acme")
		ta, _ := e.adminToken(store.DefaultTenantID, scope.TenantAdmin)

		made := decode[userView](t, e.want(e.do("POST", "/users", ta, map[string]any{
			"username": "mallory", "admin": true, "password": consolePassword,
		}), http.StatusCreated))

		b := e.browser()
		b.signIn(store.DefaultTenantID, "mallory")
		if strings.Contains(b.page(b.get("/console/apps/new"), http.StatusOK), `value="`+scope.Admin+`"`) {
			t.Fatal("the console offers scopegate.admin to a tenant admin of the default tenant")
		}
		b.page(b.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"root-key"}, "scopes": {scope.Admin}}), http.StatusForbidden)
		if _, err := e.app.Store().FindClientByName(ctx, store.DefaultTenantID, "root-key"); err == nil {
			t.Fatal("the console made a scopegate.admin client for a tenant admin")
		}
		if strings.Contains(b.page(b.get("/console/users"), http.StatusOK), "<th>Tenant</th>") {
			t.Fatal("the console shows a tenant admin every tenant's users")
		}
		tok, _ := e.userToken(e.storedUser(made.ID), scope.Admin)
		problemOf(t, e.do("POST", "/tenants", tok, map[string]any{"name": "mine"}), http.StatusForbidden)
		problemOf(t, e.do("GET", "/clients?tenant_id=acme", tok, nil), http.StatusForbidden)
		problemOf(t, e.do("POST", "/clients", tok, map[string]any{"name": "root-key", "scopes": []string{scope.Admin}}), http.StatusForbidden)
		e.want(e.do("GET", "/clients", tok, nil), http.StatusOK)
		problemOf(t, e.do("POST", "/users", ta, map[string]any{"username": "eve", "admin": true, "super_admin": true}), http.StatusForbidden)
		problemOf(t, e.do("POST", "/users", ta, map[string]any{"username": "eve", "super_admin": true}), http.StatusForbidden)
		if _, err := e.app.Store().FindUser(ctx, store.DefaultTenantID, "eve"); err == nil {
			t.Fatal("a refused user was created")
		}
		problemOf(t, e.do("PATCH", "/users/"+made.ID, ta, map[string]any{"super_admin": true}), http.StatusForbidden)

		// The super admin level: explicit, default tenant only.
		root := decode[map[string]any](t, e.want(e.do("POST", "/users", e.super, map[string]any{
			"username": "root", "super_admin": true, "password": consolePassword,
		}), http.StatusCreated))
		if root["admin"] != true || root["super_admin"] != true {
			t.Fatalf("the super admin as created: %v", root)
		}
		rootID := root["id"].(string)
		p := problemOf(t, e.do("POST", "/users", e.super, map[string]any{"username": "x", "tenant_id": "acme", "super_admin": true}), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"super_admin"}) {
			t.Fatalf("a super admin of acme: %+v", p.Errors)
		}
		rb := e.browser()
		rb.signIn(store.DefaultTenantID, "root")
		rb.page(rb.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"root-key"}, "scopes": {scope.Admin}}), http.StatusCreated)
		rootTok, _ := e.userToken(e.storedUser(rootID), scope.Admin)
		e.want(e.do("POST", "/tenants", rootTok, map[string]any{"name": "initech"}), http.StatusCreated)

		// Nothing the tenant admin (API or console) may do to the super admin.
		hash := e.storedUser(rootID).PasswordHash
		for _, body := range []map[string]any{
			{"password": "a brand new password"}, {"disabled": true}, {"admin": false}, {"super_admin": false}, {"email": "x@example.com"},
		} {
			problemOf(t, e.do("PATCH", "/users/"+rootID, ta, body), http.StatusForbidden)
		}
		problemOf(t, e.do("DELETE", "/users/"+rootID+"/consents/sg_x", ta, nil), http.StatusForbidden)
		b.page(b.post("/console/users/"+rootID+"/password", url.Values{"password": {"a brand new password"}}), http.StatusForbidden)
		b.page(b.post("/console/users/"+rootID+"/disable", nil), http.StatusForbidden)
		if u := e.storedUser(rootID); u.PasswordHash != hash || u.Disabled || !u.Admin {
			t.Fatalf("a tenant admin changed the super admin: %+v", u)
		}
		// Its own tenant's admins it still manages.
		e.want(e.do("PATCH", "/users/"+made.ID, ta, map[string]any{"disabled": true}), http.StatusOK)
	})
}

// Hole 15: admin power a user hands to a client ends when the user loses
// it, on the next request. An admin of acme makes an API key with
// scopegate.tenant_admin in the console (it connects as nobody); the key's
// 2-legged token administers acme, its actions are audited under the user
// through the key, and a key the key makes is tied to the same user. When a
// super admin removes the user's admin flag, both keys are refused at once
// (and cannot restore the user); giving the flag back restores them;
// disabling the user refuses them again. A super admin's key with
// scopegate.admin loses the super power (but keeps the default tenant) when
// its creator becomes a tenant admin.
func TestAPIKeyPowerEndsWithItsCreator(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.tenant("acme")
		ada := decode[userView](t, e.want(e.do("POST", "/users", e.super, map[string]any{
			"username": "ada", "tenant_id": "acme", "admin": true, "password": consolePassword,
		}), http.StatusCreated))
		b := e.browser()
		b.signIn("acme", "ada")
		page := b.page(b.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"ada-key"}, "scopes": {scope.TenantAdmin}}), http.StatusCreated)
		keyID := consoleClientID.FindStringSubmatch(page)[1]
		key := e.sign(keyID, "acme", "", scope.TenantAdmin)
		e.want(e.do("GET", "/users", key, nil), http.StatusOK)
		second := e.create(key, map[string]any{"name": "key-of-key", "scopes": []string{scope.TenantAdmin}})
		keyOfKey := e.sign(second.ClientID, "acme", "", scope.TenantAdmin)
		e.want(e.do("GET", "/users", keyOfKey, nil), http.StatusOK)

		e.want(e.do("PATCH", "/users/"+ada.ID, e.super, map[string]any{"admin": false}), http.StatusOK)
		e.refusedToken(key)
		e.refusedToken(keyOfKey)
		if w := e.do("PATCH", "/users/"+ada.ID, key, map[string]any{"admin": true}); w.Code != http.StatusForbidden {
			t.Fatalf("the demoted user's key restored it: %d %s", w.Code, w.Body.String())
		}
		if e.storedUser(ada.ID).Admin {
			t.Fatal("the demoted user is an admin again")
		}

		entries := decode[list[auditView]](t, e.want(e.do("GET", "/audit", e.super, nil), http.StatusOK)).Items
		if i := slices.IndexFunc(entries, func(a auditView) bool { return a.Target == second.ClientID }); i < 0 ||
			entries[i].Actor != ada.ID || entries[i].Via != keyID {
			t.Fatalf("the key's action is audited as %+v, want actor %s via %s", entries, ada.ID, keyID)
		}

		e.want(e.do("PATCH", "/users/"+ada.ID, e.super, map[string]any{"admin": true}), http.StatusOK)
		e.want(e.do("GET", "/users", key, nil), http.StatusOK)
		e.want(e.do("GET", "/users", keyOfKey, nil), http.StatusOK)

		e.want(e.do("PATCH", "/users/"+ada.ID, e.super, map[string]any{"disabled": true}), http.StatusOK)
		e.refusedToken(key)
		if w := e.do("PATCH", "/users/"+ada.ID, key, map[string]any{"disabled": false}); w.Code != http.StatusForbidden {
			t.Fatalf("the disabled user's key enabled it: %d %s", w.Code, w.Body.String())
		}

		// A super admin's key.
		e.want(e.do("POST", "/users", e.super, map[string]any{"username": "root", "super_admin": true, "password": consolePassword}), http.StatusCreated)
		rb := e.browser()
		rb.signIn(store.DefaultTenantID, "root")
		page = rb.page(rb.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"root-key"}, "scopes": {scope.Admin}}), http.StatusCreated)
		rootKey := e.sign(consoleClientID.FindStringSubmatch(page)[1], store.DefaultTenantID, "", scope.Admin)
		e.want(e.do("POST", "/tenants", rootKey, map[string]any{"name": "initech"}), http.StatusCreated)
		root, err := e.app.Store().FindUser(context.Background(), store.DefaultTenantID, "root")
		if err != nil {
			t.Fatal(err)
		}
		e.want(e.do("PATCH", "/users/"+root.ID, e.super, map[string]any{"super_admin": false}), http.StatusOK)
		problemOf(t, e.do("POST", "/tenants", rootKey, map[string]any{"name": "hooli"}), http.StatusForbidden)
		problemOf(t, e.do("GET", "/clients?tenant_id=acme", rootKey, nil), http.StatusForbidden)
		e.want(e.do("GET", "/clients", rootKey, nil), http.StatusOK)
	})
}

// userGrant gives u a live code-flow grant of the bootstrap client: a
// refresh token issued together with access token jti.
func (e *env) userGrant(u, fam, jti string) string {
	e.t.Helper()
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	digest := store.Digest(fam + "-refresh")
	if err := e.app.Store().SaveRefreshToken(ctx, &store.RefreshToken{Digest: digest, FamilyID: fam, ClientID: e.superID,
		UserID: u, Scopes: store.Strings{"demo.read"}, ExpiresAt: exp, AccessJTI: jti, AccessExpiresAt: &exp}, ""); err != nil {
		e.t.Fatal(err)
	}
	if err := e.app.Store().SaveConsent(ctx, u, e.superID, []string{"demo.read"}); err != nil {
		e.t.Fatal(err)
	}
	return digest
}

// Hole 16 at the admin API: resetting a user's password, disabling the user
// and revoking a consent each end the user's refresh tokens and revoke the
// access tokens issued with them; enabling the user again brings nothing
// back. (The store test covers the details; the integration test the real
// flow.)
func TestUserChangesEndRefreshTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		u := e.user(store.DefaultTenantID, "ada")
		ended := func(what, digest, jti string) {
			t.Helper()
			if _, err := e.app.Store().GetRefreshToken(ctx, digest); err == nil {
				t.Errorf("%s: the refresh token survived", what)
			}
			if is, err := e.app.Store().IsRevoked(ctx, jti); err != nil || !is {
				t.Errorf("%s: the access token issued with it is not revoked (%v)", what, err)
			}
		}
		r := e.userGrant(u.ID, "f1", "jti-1")
		e.want(e.do("PATCH", "/users/"+u.ID, e.super, map[string]any{"password": "a brand new password"}), http.StatusOK)
		ended("password reset", r, "jti-1")

		r = e.userGrant(u.ID, "f2", "jti-2")
		e.want(e.do("PATCH", "/users/"+u.ID, e.super, map[string]any{"disabled": true}), http.StatusOK)
		e.want(e.do("PATCH", "/users/"+u.ID, e.super, map[string]any{"disabled": false}), http.StatusOK)
		ended("disable and enable", r, "jti-2")

		r = e.userGrant(u.ID, "f3", "jti-3")
		e.want(e.do("DELETE", "/users/"+u.ID+"/consents/"+e.superID, e.super, nil), http.StatusNoContent)
		ended("consent revoked", r, "jti-3")
	})
}

// Hole 17: an app may never request an admin scope (400 naming scopes on
// POST and PATCH /apps, for a super admin too), and an allow never grants
// one: an app registered before the rule that requests one has it skipped
// by default, refused when named (400), shown as not grantable, and not
// offered in the console; an app requesting only admin scopes cannot be
// allowed at all.
func TestAppsNeverGetAdminScopes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ie := newIntegrationsEnv(t, driver)
		ctx := context.Background()
		for _, tc := range []struct {
			tok    string
			scopes []string
		}{
			{ie.dev, []string{"demo.read", scope.TenantAdmin}},
			{ie.dev, []string{scope.Admin}},
			{ie.super, []string{scope.Admin}},
			{ie.super, []string{scope.TenantAdmin}},
		} {
			p := problemOf(t, ie.do("POST", "/apps", tc.tok, map[string]any{
				"name": "Grabby", "scopes": tc.scopes, "tenant_ids": []string{ie.t1Tenant},
			}), http.StatusBadRequest)
			if !slices.Equal(fields(p), []string{"scopes"}) {
				t.Fatalf("app requesting %v: %+v", tc.scopes, p.Errors)
			}
		}
		p := problemOf(t, ie.do("PATCH", "/apps/"+ie.reporter.ID, ie.dev, map[string]any{"scopes": []string{"demo.read", scope.TenantAdmin}}), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"scopes"}) {
			t.Fatalf("patch: %+v", p.Errors)
		}

		old := func(name string, scopes ...string) string {
			a := &store.DeveloperApp{ID: store.NewID(), Name: name, DeveloperTenantID: "dev", OwnerID: ie.devID,
				RequestedScopes: scopes, TenantIDs: store.Strings{ie.t1Tenant}, RedirectURIs: store.Strings{}}
			if err := ie.app.Store().CreateApp(ctx, a, store.Actor{Principal: "test"}); err != nil {
				t.Fatal(err)
			}
			return a.ID
		}
		mixed := old("Mixed", "demo.read", scope.TenantAdmin)
		view := decode[map[string]any](t, ie.want(ie.do("GET", "/integrations/"+mixed, ie.t1, nil), http.StatusOK))
		for _, s := range view["requested_scopes"].([]any) {
			ref := s.(map[string]any)
			if ref["grantable"] != (ref["name"] != scope.TenantAdmin) {
				t.Fatalf("requested scope %v", ref)
			}
		}
		p = problemOf(t, ie.do("POST", "/integrations/"+mixed+"/allow", ie.t1, map[string]any{"scopes": []string{"demo.read", scope.TenantAdmin}}), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"scopes"}) {
			t.Fatalf("allowing an admin scope: %+v", p.Errors)
		}
		pair := decode[pairView](t, ie.want(ie.do("POST", "/integrations/"+mixed+"/allow", ie.t1, nil), http.StatusCreated))
		if !slices.Equal(pair.Scopes, []string{"demo.read"}) {
			t.Fatalf("the default allow granted %v", pair.Scopes)
		}
		if cl, err := ie.app.Store().GetClient(ctx, pair.ClientID); err != nil || !slices.Equal(cl.AllowedScopes, []string{"demo.read"}) {
			t.Fatalf("the pair holds %+v, %v", cl, err)
		}

		only := old("Only admin", scope.TenantAdmin)
		for _, body := range []any{nil, map[string]any{"scopes": []string{scope.TenantAdmin}}} {
			p = problemOf(t, ie.do("POST", "/integrations/"+only+"/allow", ie.t1, body), http.StatusBadRequest)
			if !slices.Equal(fields(p), []string{"scopes"}) {
				t.Fatalf("allowing an admin-only app: %+v", p.Errors)
			}
		}

		ie.adminUser(ie.t1Tenant, "t1admin")
		b := ie.browser()
		b.signIn(ie.t1Tenant, "t1admin")
		if body := b.page(b.get("/console/integrations/"+only), http.StatusOK, scope.TenantAdmin); strings.Contains(body, `value="`+scope.TenantAdmin+`"`) {
			t.Fatal("the console offers an admin scope to allow")
		}
	})
}
