package admin

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// grant_types is set on POST, PATCH and POST /clients/ensure, stored,
// shown in the client view ([] when the client keeps every grant), and
// checked: an unknown grant type is a 400 naming grant_types, and
// implicit_grant may not disagree with it. implicit_grant follows the list
// in the view, and listing implicit lifts an earlier implicit_grant false.
func TestClientGrantTypes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		all := e.create(e.super, map[string]any{"name": "all", "scopes": []string{"demo.read"}})
		if all.GrantTypes == nil || len(all.GrantTypes) != 0 || !all.ImplicitGrant {
			t.Fatalf("a client made without grant_types: %+v", all)
		}
		cc := e.create(e.super, map[string]any{"name": "cc", "scopes": []string{"demo.read"}, "grant_types": []string{"client_credentials", "client_credentials"}})
		if !slices.Equal(cc.GrantTypes, []string{"client_credentials"}) || cc.ImplicitGrant {
			t.Fatalf("created with grant_types: %+v", cc)
		}
		if c, err := e.app.Store().GetClient(ctx, cc.ClientID); err != nil || !slices.Equal(c.GrantTypes, []string{"client_credentials"}) {
			t.Fatalf("stored: %+v, %v", c, err)
		}
		got := decode[clientView](t, e.want(e.do("GET", "/clients/"+cc.ClientID, e.super, nil), http.StatusOK))
		if !slices.Equal(got.GrantTypes, []string{"client_credentials"}) {
			t.Fatalf("GET shows %v", got.GrantTypes)
		}
		got = decode[clientView](t, e.want(e.do("PATCH", "/clients/"+all.ClientID, e.super,
			map[string]any{"grant_types": []string{"authorization_code", "refresh_token"}}), http.StatusOK))
		if !slices.Equal(got.GrantTypes, []string{"authorization_code", "refresh_token"}) || got.ImplicitGrant {
			t.Fatalf("PATCH grant_types: %+v", got)
		}
		got = decode[clientView](t, e.want(e.do("PATCH", "/clients/"+all.ClientID, e.super, map[string]any{"name": "all again"}), http.StatusOK))
		if !slices.Equal(got.GrantTypes, []string{"authorization_code", "refresh_token"}) {
			t.Fatalf("a PATCH without grant_types changed them: %v", got.GrantTypes)
		}
		ensured := decode[clientView](t, e.want(e.do("POST", "/clients/ensure", e.super,
			map[string]any{"name": "ensured", "scopes": []string{"demo.read"}, "grant_types": []string{"implicit"}}), http.StatusCreated))
		if !slices.Equal(ensured.GrantTypes, []string{"implicit"}) || !ensured.ImplicitGrant {
			t.Fatalf("ensure with grant_types: %+v", ensured)
		}

		for name, tc := range map[string]struct {
			path, method string
			body         map[string]any
			field        string
		}{
			"unknown on create":                    {"/clients", "POST", map[string]any{"name": "x", "scopes": []string{"demo.read"}, "grant_types": []string{"password"}}, "grant_types"},
			"unknown on ensure":                    {"/clients/ensure", "POST", map[string]any{"name": "y", "scopes": []string{"demo.read"}, "grant_types": []string{"token"}}, "grant_types"},
			"unknown on PATCH":                     {"/clients/" + cc.ClientID, "PATCH", map[string]any{"grant_types": []string{"client_credentials", ""}}, "grant_types"},
			"implicit_grant true, list without it": {"/clients/" + cc.ClientID, "PATCH", map[string]any{"implicit_grant": true}, "implicit_grant"},
			"implicit_grant false, list with it": {"/clients", "POST", map[string]any{"name": "z", "scopes": []string{"demo.read"},
				"grant_types": []string{"implicit"}, "implicit_grant": false}, "implicit_grant"},
		} {
			t.Run(name, func(t *testing.T) {
				p := problemOf(t, e.do(tc.method, tc.path, e.super, tc.body), http.StatusBadRequest)
				if !slices.Equal(fields(p), []string{tc.field}) {
					t.Fatalf("fields %v, want [%s]: %+v", fields(p), tc.field, p)
				}
			})
		}
		if c, _ := e.app.Store().GetClient(ctx, cc.ClientID); !slices.Equal(c.GrantTypes, []string{"client_credentials"}) {
			t.Fatalf("a refused PATCH changed grant_types: %v", c.GrantTypes)
		}

		// implicit_grant false keeps working on a client without a list,
		// and listing implicit later turns it back on.
		off := e.create(e.super, map[string]any{"name": "off", "scopes": []string{"demo.read"}, "implicit_grant": false})
		if off.ImplicitGrant {
			t.Fatal("implicit_grant false ignored")
		}
		got = decode[clientView](t, e.want(e.do("PATCH", "/clients/"+off.ClientID, e.super,
			map[string]any{"grant_types": []string{"implicit", "authorization_code"}}), http.StatusOK))
		if !got.ImplicitGrant {
			t.Fatalf("listing implicit did not turn it on: %+v", got)
		}
		if c, _ := e.app.Store().GetClient(ctx, off.ClientID); c.DisableImplicit || !c.AllowsGrant(store.GrantImplicit) {
			t.Fatalf("stored: %+v", c)
		}
		got = decode[clientView](t, e.want(e.do("PATCH", "/clients/"+off.ClientID, e.super, map[string]any{"grant_types": []string{}}), http.StatusOK))
		if len(got.GrantTypes) != 0 || !got.ImplicitGrant {
			t.Fatalf("grant_types [] restores every grant: %+v", got)
		}
	})
}
