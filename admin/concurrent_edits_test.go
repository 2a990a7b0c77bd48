package admin

import (
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// patchAll sends every body as a PATCH of path at the same moment and
// fails unless each answered 200.
func patchAll(t *testing.T, e *env, tok, path string, bodies []map[string]any) {
	t.Helper()
	var wg sync.WaitGroup
	codes := make([]int, len(bodies))
	start := make(chan struct{})
	for i, b := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			codes[i] = e.do("PATCH", path, tok, b).Code
		}()
	}
	close(start)
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("PATCH %v answered %d", bodies[i], c)
		}
	}
}

// Concurrent PATCHes of one client, each changing another field, all take
// effect: none is lost to another that read the row before it was saved.
// (Before the fix a rename sent with a narrowing of scopes could put the
// wider scopes back, and the client minted tokens with them again.)
func TestConcurrentClientEditsAllTakeEffect(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		for round := range 4 {
			created := e.create(e.super, map[string]any{
				"name": "edited", "scopes": []string{"demo.read", "demo.write"},
				"redirect_uris": []string{"https://app.example/cb"}, "token_lifetime_minutes": 30,
			})
			path := "/clients/" + created.ClientID
			patchAll(t, e, e.super, path, []map[string]any{
				{"scopes": []string{"demo.read"}, "default_scopes": []string{"demo.read"}},
				{"name": "renamed"},
				{"token_lifetime_minutes": 45},
				{"max_minutes_per_day": 300},
				{"redirect_uris": []string{"https://app.example/other"}},
			})
			got := decode[clientView](t, e.want(e.do("GET", path, e.super, nil), http.StatusOK))
			if !slices.Equal(got.Scopes, []string{"demo.read"}) || got.Name != "renamed" ||
				got.TokenLifetimeMinutes != 45 || got.MaxMinutesPerDay != 300 ||
				!slices.Equal(got.RedirectURIs, []string{"https://app.example/other"}) {
				t.Fatalf("round %d: an edit was lost: %+v", round, got)
			}
			// Free the name for the next round.
			e.want(e.do("PATCH", path, e.super, map[string]any{"name": "done-" + created.ClientID}), http.StatusOK)
		}
	})
}

// The same for a developer's app: concurrent edits of its name,
// description, scopes and redirect URIs all take effect.
func TestConcurrentAppEditsAllTakeEffect(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.tenant("dev")
		e.tenant("t1")
		devAdmin, _ := e.adminToken("dev", scope.TenantAdmin)
		for round := range 4 {
			created := decode[appView](t, e.want(e.do("POST", "/apps", devAdmin, map[string]any{
				"name": "app", "scopes": []string{"demo.read", "demo.write"}, "tenant_ids": []string{"t1"},
				"redirect_uris": []string{"https://app.example/cb"},
			}), http.StatusCreated))
			path := "/apps/" + created.ID
			patchAll(t, e, devAdmin, path, []map[string]any{
				{"scopes": []string{"demo.read"}},
				{"name": "renamed"},
				{"description": "described"},
				{"redirect_uris": []string{"https://app.example/other"}},
			})
			got := decode[appView](t, e.want(e.do("GET", path, devAdmin, nil), http.StatusOK))
			if !slices.Equal(got.Scopes, []string{"demo.read"}) || got.Name != "renamed" || got.Description != "described" ||
				!slices.Equal(got.RedirectURIs, []string{"https://app.example/other"}) {
				t.Fatalf("round %d: an edit was lost: %+v", round, got)
			}
			e.want(e.do("PATCH", path, devAdmin, map[string]any{"name": "done-" + created.ID}), http.StatusOK)
		}
	})
}
