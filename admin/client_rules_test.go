package admin

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Every invalid field of a client is named in one 400 answer, on create and
// on patch: missing or overlong name, missing, empty or unknown scopes,
// default scopes outside the scopes, unknown auth method, negative or huge
// numbers, bad redirect URIs, unknown tenant, a connect-as user that is
// missing, disabled, of another tenant or on a user client, impersonation
// on a user client, and wrong JSON types. Nothing is written.
func TestClientValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.tenant("acme")
		mine := e.user(store.DefaultTenantID, "mine")
		theirs := e.user("acme", "theirs")
		off := e.user(store.DefaultTenantID, "off")
		e.want(e.do("PATCH", "/users/"+off.ID, e.super, map[string]any{"disabled": true}), http.StatusOK)

		ok := map[string]any{"name": "x", "scopes": []string{"demo.read"}}
		with := func(k string, v any) map[string]any {
			m := map[string]any{"name": "x", "scopes": []string{"demo.read"}}
			m[k] = v
			return m
		}
		cases := []struct {
			name string
			body any
			want []string
		}{
			{"missing name", map[string]any{"scopes": []string{"demo.read"}}, []string{"name"}},
			{"blank name", with("name", "   "), []string{"name"}},
			{"long name", with("name", strings.Repeat("é", 201)), []string{"name"}},
			{"control in name", with("name", "a\x00b"), []string{"name"}},
			{"missing scopes", map[string]any{"name": "x"}, []string{"scopes"}},
			{"empty scopes", with("scopes", []string{}), []string{"scopes"}},
			{"null scopes", with("scopes", nil), []string{"scopes"}},
			{"unknown scope", with("scopes", []string{"demo.read", "nope"}), []string{"scopes"}},
			{"empty scope name", with("scopes", []string{""}), []string{"scopes"}},
			{"defaults outside scopes", with("default_scopes", []string{"demo.write"}), []string{"default_scopes"}},
			{"auth method", with("auth_method", "password"), []string{"auth_method"}},
			{"negative lifetime", with("token_lifetime_minutes", -1), []string{"token_lifetime_minutes"}},
			{"huge lifetime", with("token_lifetime_minutes", 1<<40), []string{"token_lifetime_minutes"}},
			{"negative daily cap", with("max_minutes_per_day", -5), []string{"max_minutes_per_day"}},
			{"relative redirect", with("redirect_uris", []string{"/cb"}), []string{"redirect_uris"}},
			{"ftp redirect", with("redirect_uris", []string{"ftp://h/cb"}), []string{"redirect_uris"}},
			{"fragment redirect", with("redirect_uris", []string{"https://h/cb#x"}), []string{"redirect_uris"}},
			{"hostless redirect", with("redirect_uris", []string{"https:///cb"}), []string{"redirect_uris"}},
			// Hosts url.Parse takes but no DNS name is: each would be CSP
			// syntax in the authorize page's form-action.
			{"redirect host with ;", with("redirect_uris", []string{"https://a.example;script-src/cb"}), []string{"redirect_uris"}},
			{"redirect host with *", with("redirect_uris", []string{"https://*/cb"}), []string{"redirect_uris"}},
			{"redirect host with ,", with("redirect_uris", []string{"https://a,b/cb"}), []string{"redirect_uris"}},
			{"redirect host with a quote", with("redirect_uris", []string{"https://a.example'unsafe-inline'/cb"}), []string{"redirect_uris"}},
			{"plain http redirect", with("redirect_uris", []string{"http://app.example/cb"}), []string{"redirect_uris"}},
			{"redirect port 0", with("redirect_uris", []string{"https://a.example:0/cb"}), []string{"redirect_uris"}},
			{"redirect port past 65535", with("redirect_uris", []string{"https://[::1]:99999/cb"}), []string{"redirect_uris"}},
			{"too many redirects", with("redirect_uris", manyRedirectURIs(maxRedirectURIs+1)), []string{"redirect_uris"}},
			{"unknown tenant", with("tenant_id", "nope"), []string{"tenant_id"}},
			{"NUL tenant", with("tenant_id", "a\x00"), []string{"tenant_id"}},
			{"missing user", with("connect_as_user_id", "nope"), []string{"connect_as_user_id"}},
			{"other tenant's user", with("connect_as_user_id", theirs.ID), []string{"connect_as_user_id"}},
			{"disabled user", with("connect_as_user_id", off.ID), []string{"connect_as_user_id"}},
			{"user client connecting", map[string]any{"name": "x", "scopes": []string{"demo.read"}, "auth_method": "user", "connect_as_user_id": mine.ID}, []string{"connect_as_user_id"}},
			{"user client impersonating", map[string]any{"name": "x", "scopes": []string{"demo.read"}, "auth_method": "user", "allow_impersonation": true}, []string{"allow_impersonation"}},
			{"string lifetime", `{"name":"x","scopes":["demo.read"],"token_lifetime_minutes":"ten"}`, []string{"token_lifetime_minutes"}},
			{"number scopes", `{"name":"x","scopes":[1]}`, []string{"scopes"}},
			{"everything wrong", map[string]any{
				"name": "", "scopes": []string{"nope"}, "default_scopes": []string{"demo.read"}, "auth_method": "x",
				"token_lifetime_minutes": -1, "max_minutes_per_day": -1, "redirect_uris": []string{"nope"},
			}, []string{"name", "scopes", "default_scopes", "auth_method", "token_lifetime_minutes", "max_minutes_per_day", "redirect_uris"}},
		}
		for _, tc := range cases {
			p := problemOf(t, e.do("POST", "/clients", e.super, tc.body), http.StatusBadRequest)
			got := fields(p)
			for _, f := range tc.want {
				if !slices.Contains(got, f) {
					t.Errorf("%s: errors %+v do not name %q", tc.name, p.Errors, f)
				}
			}
			for _, fe := range p.Errors {
				if fe.Message == "" || !slices.Contains(tc.want, fe.Field) {
					t.Errorf("%s: unexpected error %+v", tc.name, fe)
				}
			}
		}
		if list := decode[list[clientView]](t, e.do("GET", "/clients", e.super, nil)); list.Total != 1 {
			t.Fatalf("refused creates wrote %d clients", list.Total-1)
		}

		good := e.create(e.super, ok)
		oobOnly := e.create(e.super, map[string]any{"name": "cli", "scopes": []string{"demo.read"}, "auth_method": "user", "redirect_uris": []string{oob}})
		if oobOnly.AuthMethod != store.AuthUser || oobOnly.RedirectURIs[0] != oob {
			t.Fatalf("oob client: %+v", oobOnly)
		}
		// A native app's loopback listener may use plain http.
		loopbacks := []string{"http://127.0.0.1:8765/cb", "http://localhost/cb", "http://[::1]:9000/cb", "https://app.example/cb"}
		native := e.create(e.super, map[string]any{"name": "native", "scopes": []string{"demo.read"}, "auth_method": "user", "redirect_uris": loopbacks})
		if !slices.Equal(native.RedirectURIs, loopbacks) {
			t.Fatalf("loopback redirects: %+v", native.RedirectURIs)
		}
		path := "/clients/" + good.ClientID
		patches := []struct {
			name string
			body any
			want string
		}{
			{"blank name", map[string]any{"name": ""}, "name"},
			{"empty scopes", map[string]any{"scopes": []string{}}, "scopes"},
			{"defaults outside the new scopes", map[string]any{"scopes": []string{"demo.write"}, "default_scopes": []string{"demo.read"}}, "default_scopes"},
			{"switch to user with impersonation", map[string]any{"auth_method": "user", "allow_impersonation": true}, "allow_impersonation"},
			{"unknown tenant", map[string]any{"tenant_id": "nope"}, "tenant_id"},
			{"bool as string", `{"allow_user_tokens":"yes"}`, "allow_user_tokens"},
		}
		for _, tc := range patches {
			p := problemOf(t, e.do("PATCH", path, e.super, tc.body), http.StatusBadRequest)
			if !slices.Contains(fields(p), tc.want) {
				t.Errorf("patch %s: errors %+v do not name %q", tc.name, p.Errors, tc.want)
			}
		}
		if now := decode[clientView](t, e.do("GET", path, e.super, nil)); now.Name != "x" || !slices.Equal(now.Scopes, []string{"demo.read"}) || now.AuthMethod != store.AuthAPIKey {
			t.Fatalf("refused patches changed the client: %+v", now)
		}
	})
}

// manyRedirectURIs is n distinct valid redirect URIs.
func manyRedirectURIs(n int) []string {
	uris := make([]string, n)
	for i := range uris {
		uris[i] = fmt.Sprintf("https://app.example/cb/%d", i)
	}
	return uris
}
