package admin

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Sending a client's tokens somewhere new (a redirect URI added, the client
// made public or a sign-in app, a grant added), or changing whom they speak
// for (auth_method, connect_as_user_id), hands whoever does it the tokens
// of every user who approved the client, or its creator's automation: a tenant admin of default
// repointing a super admin's sign-in app got the super admin's token with
// no click (tenancy red team). So only the client's creator or a super
// admin may (403 for another admin, nothing changed), while taking a
// redirect URI away, or any other edit, stays open to every admin of the
// client; and a repoint forgets what users approved, so each approves the
// new destination again.
func TestOnlyTheCreatorRepointsAClient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		tenantAdmin, _ := e.adminToken(store.DefaultTenantID, scope.TenantAdmin)
		app := e.create(e.super, map[string]any{"name": "sapp", "auth_method": "user", "scopes": []string{"demo.read"},
			"redirect_uris": []string{"https://s.example/cb", "https://s.example/cb2"}, "grant_types": []string{"authorization_code", "refresh_token"}})
		key := e.create(e.super, map[string]any{"name": "skey", "scopes": []string{"demo.read"}})
		super := e.superUser("root")
		plain, other := e.user(store.DefaultTenantID, "plain"), e.user(store.DefaultTenantID, "other")
		automation := e.create(e.super, map[string]any{"name": "sauto", "scopes": []string{"demo.read"}, "connect_as_user_id": plain.ID})
		if err := e.app.Store().SaveConsent(ctx, super.ID, app.ClientID, []string{"demo.read"}); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			id   string
			body map[string]any
		}{
			{app.ClientID, map[string]any{"redirect_uris": []string{"https://s.example/cb", "https://evil.example/cb"}}},
			{app.ClientID, map[string]any{"public": true}},
			{app.ClientID, map[string]any{"grant_types": []string{"authorization_code", "refresh_token", "implicit"}}},
			{key.ClientID, map[string]any{"auth_method": "user", "redirect_uris": []string{"https://evil.example/cb"}}},
			// Whom its tokens speak for: the super admin's app turned into
			// a key, its automation made to act as someone else.
			{app.ClientID, map[string]any{"auth_method": "api_key"}},
			{automation.ClientID, map[string]any{"connect_as_user_id": other.ID}},
			{automation.ClientID, map[string]any{"connect_as_user_id": nil}},
		} {
			problemOf(t, e.do("PATCH", "/clients/"+tc.id, tenantAdmin, tc.body), http.StatusForbidden)
		}
		got := decode[clientView](t, e.want(e.do("GET", "/clients/"+app.ClientID, e.super, nil), http.StatusOK))
		if len(got.RedirectURIs) != 2 || got.Public {
			t.Fatalf("refused repoints changed the app: %+v", got)
		}
		if _, err := e.app.Store().GetConsent(ctx, super.ID, app.ClientID); err != nil {
			t.Fatalf("a refused repoint dropped the approval: %v", err)
		}

		// Taking a destination away, or renaming, is any admin's.
		e.want(e.do("PATCH", "/clients/"+app.ClientID, tenantAdmin, map[string]any{"redirect_uris": []string{"https://s.example/cb"}}), http.StatusOK)
		e.want(e.do("PATCH", "/clients/"+app.ClientID, tenantAdmin, map[string]any{"name": "sapp 2"}), http.StatusOK)
		if _, err := e.app.Store().GetConsent(ctx, super.ID, app.ClientID); err != nil {
			t.Fatalf("narrowing the redirect URIs dropped the approval: %v", err)
		}

		// Its creator (here the super admin) may, and every approval of the
		// client is forgotten: the new destination is approved anew.
		e.want(e.do("PATCH", "/clients/"+app.ClientID, e.super, map[string]any{"redirect_uris": []string{"https://s.example/cb", "https://s.example/new"}}), http.StatusOK)
		if _, err := e.app.Store().GetConsent(ctx, super.ID, app.ClientID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after a repoint the approval is %v, want it forgotten", err)
		}

		// A tenant admin's own app: it may repoint it, another admin of its
		// tenant may not.
		mine := e.create(tenantAdmin, map[string]any{"name": "mine", "auth_method": "user", "scopes": []string{"demo.read"},
			"redirect_uris": []string{"https://t.example/cb"}})
		peer, _ := e.adminToken(store.DefaultTenantID, scope.TenantAdmin)
		problemOf(t, e.do("PATCH", "/clients/"+mine.ClientID, peer, map[string]any{"redirect_uris": []string{"https://t.example/cb", "https://evil.example/cb"}}), http.StatusForbidden)
		e.want(e.do("PATCH", "/clients/"+mine.ClientID, tenantAdmin, map[string]any{"redirect_uris": []string{"https://t.example/cb", "https://t.example/cb2"}}), http.StatusOK)
	})
}

// With connect_as_creator, a key stored before the option (connecting as
// nobody) is made to connect as its creator by the next edit that ties it
// to a user, even one that names none (its own tenant, its own auth method
// sent back): whom its tokens speak for changes, so that edit is its
// creator's or a super admin's too (a review found another admin's no-op
// PATCH made alice's key act as alice).
func TestConnectAsCreatorDefaultIsTheCreatorsChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		alice := e.adminUser(store.DefaultTenantID, "alice")
		legacy := e.storeClient(&store.Client{Name: "legacy", TenantID: store.DefaultTenantID, AuthMethod: store.AuthAPIKey,
			AllowedScopes: store.Strings{"demo.read"}, DefaultScopes: store.Strings{"demo.read"}, OwnerID: alice.ID})
		e.h.ConnectAsCreator = true
		bob, _ := e.adminToken(store.DefaultTenantID, scope.TenantAdmin)
		for _, body := range []map[string]any{{"tenant_id": store.DefaultTenantID}, {"auth_method": "api_key"}} {
			problemOf(t, e.do("PATCH", "/clients/"+legacy.ID, bob, body), http.StatusForbidden)
		}
		if got := decode[clientView](t, e.want(e.do("GET", "/clients/"+legacy.ID, e.super, nil), http.StatusOK)); got.ConnectAsUserID != nil {
			t.Fatalf("another admin's refused edits made the key connect as %v", *got.ConnectAsUserID)
		}
		// A super admin's edit gives it its creator, as the option says.
		got := decode[clientView](t, e.want(e.do("PATCH", "/clients/"+legacy.ID, e.super, map[string]any{"auth_method": "api_key"}), http.StatusOK))
		if got.ConnectAsUserID == nil || *got.ConnectAsUserID != alice.ID {
			t.Fatalf("after a super admin's edit the key connects as %v, want alice", got.ConnectAsUserID)
		}
	})
}
