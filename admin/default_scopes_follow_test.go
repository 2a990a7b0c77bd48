package admin

import (
	"net/http"
	"slices"
	"testing"

	"github.com/scopegate/scopegate/module/store/storetest"
)

// TestDefaultScopesFollowScopes checks that a PATCH changing a client's
// scopes without naming default_scopes carries the defaults along instead of
// refusing the change: defaults that were all the scopes (as creating a
// client without default_scopes makes them) stay all of them, narrowed or
// widened; chosen defaults keep those still allowed, and become all the
// scopes when none is; a body naming default_scopes outside its scopes is
// still refused, and leaves the client as it was.
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

		all := e.create(e.super, map[string]any{"name": "all", "scopes": []string{"demo.read", "demo.write", "global"}}).ClientID
		patch(all, map[string]any{"scopes": []string{"demo.read"}}, http.StatusOK)
		if got := defaults(all); !slices.Equal(got, []string{"demo.read"}) {
			t.Errorf("narrowed to demo.read: defaults %v, want [demo.read]", got)
		}
		patch(all, map[string]any{"scopes": []string{"demo.read", "global"}}, http.StatusOK)
		if got := defaults(all); !slices.Equal(got, []string{"demo.read", "global"}) {
			t.Errorf("widened to demo.read global: defaults %v, want both (they were all the scopes)", got)
		}

		chosen := e.create(e.super, map[string]any{"name": "chosen", "scopes": []string{"demo.read", "demo.write", "global"},
			"default_scopes": []string{"demo.read", "demo.write"}}).ClientID
		patch(chosen, map[string]any{"scopes": []string{"demo.read", "global"}}, http.StatusOK)
		if got := defaults(chosen); !slices.Equal(got, []string{"demo.read"}) {
			t.Errorf("chosen defaults after dropping demo.write: %v, want [demo.read]", got)
		}
		patch(chosen, map[string]any{"scopes": []string{"demo.read", "demo.write", "global"}}, http.StatusOK)
		if got := defaults(chosen); !slices.Equal(got, []string{"demo.read"}) {
			t.Errorf("chosen defaults after adding demo.write back: %v, want [demo.read] (chosen, not all)", got)
		}
		patch(chosen, map[string]any{"scopes": []string{"global"}}, http.StatusOK)
		if got := defaults(chosen); !slices.Equal(got, []string{"global"}) {
			t.Errorf("no chosen default left: %v, want all the scopes [global]", got)
		}

		p := problemOf(t, e.do("PATCH", "/clients/"+chosen, e.super, map[string]any{"scopes": []string{"demo.read"}, "default_scopes": []string{"global"}}), http.StatusBadRequest)
		if !slices.Contains(fields(p), "default_scopes") {
			t.Errorf("defaults outside the scopes: errors %+v do not name default_scopes", p.Errors)
		}
		if got := defaults(chosen); !slices.Equal(got, []string{"global"}) {
			t.Errorf("a refused patch changed the defaults to %v", got)
		}
	})
}
