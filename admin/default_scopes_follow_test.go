package admin

import (
	"net/http"
	"slices"
	"testing"

	"github.com/scopegate/scopegate/module/store/storetest"
)

// TestDefaultScopesFollowScopes checks what a PATCH changing a client's
// scopes without naming default_scopes does to its defaults (what a token
// request naming no scope gets): it keeps those still among the scopes,
// so narrowing needs no second member; it never adds a scope to them
// (least privilege: an admin scope added to a client does not reach its
// bare requests); it refuses, naming default_scopes, a change that leaves
// none of them, and a body naming defaults outside the scopes, each
// leaving the client as it was.
func TestDefaultScopesFollowScopes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		defaults := func(id string) []string {
			t.Helper()
			return decode[clientView](t, e.want(e.do("GET", "/clients/"+id, e.super, nil), http.StatusOK)).DefaultScopes
		}
		patch := func(id string, body map[string]any, status int) {
			t.Helper()
			e.want(e.do("PATCH", "/clients/"+id, e.super, body), status)
		}
		refused := func(id string, body map[string]any) {
			t.Helper()
			p := problemOf(t, e.do("PATCH", "/clients/"+id, e.super, body), http.StatusBadRequest)
			if !slices.Contains(fields(p), "default_scopes") {
				t.Errorf("PATCH %v: errors %+v do not name default_scopes", body, p.Errors)
			}
		}

		all := e.create(e.super, map[string]any{"name": "all", "scopes": []string{"demo.read", "demo.write", "global"}}).ClientID
		patch(all, map[string]any{"scopes": []string{"demo.read", "global"}}, http.StatusOK)
		if got := defaults(all); !slices.Equal(got, []string{"demo.read", "global"}) {
			t.Errorf("narrowed to demo.read global: defaults %v, want [demo.read global]", got)
		}
		patch(all, map[string]any{"scopes": []string{"demo.read", "global", "scopegate.admin"}}, http.StatusOK)
		if got := defaults(all); !slices.Equal(got, []string{"demo.read", "global"}) {
			t.Errorf("scopegate.admin added: defaults %v, want [demo.read global] (an added scope is asked for by name)", got)
		}

		chosen := e.create(e.super, map[string]any{"name": "chosen", "scopes": []string{"demo.read", "demo.write", "global"},
			"default_scopes": []string{"demo.read"}}).ClientID
		refused(chosen, map[string]any{"scopes": []string{"demo.write", "global"}})
		refused(chosen, map[string]any{"scopes": []string{"demo.read"}, "default_scopes": []string{"global"}})
		if got := defaults(chosen); !slices.Equal(got, []string{"demo.read"}) {
			t.Errorf("refused patches changed the defaults to %v", got)
		}
		patch(chosen, map[string]any{"scopes": []string{"demo.write", "global"}, "default_scopes": []string{"global"}}, http.StatusOK)
		if got := defaults(chosen); !slices.Equal(got, []string{"global"}) {
			t.Errorf("defaults named with the scopes: %v, want [global]", got)
		}
	})
}
