package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// The console routes by method and path, as the API does (ServeMux
// patterns): a path with the wrong method is a 405 page naming the allowed
// methods in Allow, GET pages answer HEAD, unknown and non-canonical paths
// are a 404 page (never a redirect that would drop the mount prefix), and
// the sign-in form needs no session while every other page does.
func TestConsoleRouteMethods(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.superUser("root")
		cl := e.create(e.super, map[string]any{"name": "theirs", "scopes": []string{"demo.read"}})

		anon := e.browser()
		if w := anon.send(httptest.NewRequest(http.MethodPut, "/", nil)); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
			t.Fatalf("PUT / signed out: %d, Allow %q", w.Code, w.Header().Get("Allow"))
		}
		if w := anon.send(httptest.NewRequest(http.MethodHead, "/", nil)); w.Code != http.StatusSeeOther || w.Header().Get("Location") != signInPath {
			t.Fatalf("HEAD / signed out: %d %v, want 303 to the sign-in form", w.Code, w.Header())
		}
		anon.page(anon.send(httptest.NewRequest(http.MethodHead, signInPath, nil)), http.StatusOK)
		if w := anon.get("/console/audit"); w.Code != http.StatusSeeOther || w.Header().Get("Location") != signInPath {
			t.Fatalf("a page signed out: %d %v", w.Code, w.Header())
		}

		b := e.browser()
		b.signIn("", "root")
		for _, tc := range []struct {
			method, path string
			status       int
			allow        string
		}{
			{http.MethodHead, "/console/apps", http.StatusOK, ""},
			{http.MethodHead, "/console/apps/new", http.StatusOK, ""},
			{http.MethodHead, "/console/apps/" + cl.ClientID, http.StatusOK, ""},
			{http.MethodPut, "/console/apps", http.StatusMethodNotAllowed, "GET, HEAD"},
			{http.MethodPost, "/console/apps", http.StatusMethodNotAllowed, "GET, HEAD"},
			{http.MethodDelete, "/console/apps/" + cl.ClientID, http.StatusMethodNotAllowed, "GET, HEAD"},
			{http.MethodGet, "/console/signout", http.StatusMethodNotAllowed, "POST"},
			{http.MethodGet, "/console/apps/" + cl.ClientID + "/secret", http.StatusMethodNotAllowed, "POST"},
			{http.MethodGet, "/console/users/x/disable", http.StatusMethodNotAllowed, "POST"},
			{http.MethodPatch, "/console/users/x/password", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
			{http.MethodGet, "/console/nope", http.StatusNotFound, ""},
			{http.MethodGet, "/console/apps/" + cl.ClientID + "/explode", http.StatusNotFound, ""},
			{http.MethodGet, "/console/apps/", http.StatusNotFound, ""},
			{http.MethodGet, "/console//apps", http.StatusNotFound, ""},
			{http.MethodGet, "/console/users/../apps", http.StatusNotFound, ""},
		} {
			r := httptest.NewRequest(tc.method, "/", nil)
			r.URL.Path = tc.path // as sent, not cleaned
			w := b.send(r)
			if w.Code != tc.status || w.Header().Get("Allow") != tc.allow {
				t.Fatalf("%s %s: %d, Allow %q; want %d, Allow %q; body %s", tc.method, tc.path, w.Code, w.Header().Get("Allow"), tc.status, tc.allow, w.Body.String())
			}
			if tc.method != http.MethodHead && tc.status >= 400 {
				msg := map[int]string{http.StatusMethodNotAllowed: "does not take that method", http.StatusNotFound: "There is no such page."}[tc.status]
				b.page(w, tc.status, msg, "Sign out") // the error page, with the navigation
			}
		}
	})
}

// Every console POST carries the session's CSRF token: each form the
// console serves, posted with a wrong token, is refused with the 403 page
// and changes nothing; without a session a post is refused the same way.
func TestConsoleRouteCSRFEveryPost(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ie := newIntegrationsEnv(t, driver)
		root := ie.superUser("root")
		bob := ie.adminUser(store.DefaultTenantID, "bob")
		b := ie.browser()
		b.signIn("", "root")
		w := b.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"Mine"}, "scopes": {"demo.read"}})
		id := b.page(w, http.StatusCreated)
		id = id[strings.Index(id, `id="client_id" value="`)+len(`id="client_id" value="`):]
		id = id[:strings.Index(id, `"`)]

		posts := []string{
			"/console/signout", "/console/apps/new", "/console/apps/" + id + "/secret",
			"/console/integrations/" + ie.reporter.ID + "/allow", "/console/integrations/" + ie.reporter.ID + "/decline",
			"/console/users/new", "/console/users/" + bob.ID + "/disable", "/console/users/" + bob.ID + "/enable",
			"/console/users/" + bob.ID + "/password",
		}
		for action := range appActions {
			posts = append(posts, "/console/apps/"+id+"/"+action)
		}
		form := url.Values{"csrf": {"wrong"}, "username": {"planted"}, "password": {consolePassword}, "scopes": {"demo.read"},
			"name": {"planted"}, "auth_method": {"api_key"}}
		for _, p := range posts {
			b.page(b.post(p, form), http.StatusForbidden, "another site", "nothing was changed")
			if b.cookie == nil {
				t.Fatalf("POST %s with a wrong token signed out", p)
			}
		}
		anon := ie.browser()
		for _, p := range posts {
			anon.page(anon.post(p, url.Values{"csrf": {b.csrf}}), http.StatusForbidden, "another site")
		}
		ctx := context.Background()
		if cl, err := ie.app.Store().GetClient(ctx, id); err != nil || cl.Disabled {
			t.Fatalf("the app after refused posts: %+v %v", cl, err)
		}
		if u, err := ie.app.Store().GetUser(ctx, bob.ID); err != nil || u.Disabled || u.PasswordHash != bob.PasswordHash {
			t.Fatalf("bob after refused posts: %+v %v", u, err)
		}
		if _, err := ie.app.Store().FindUser(ctx, store.DefaultTenantID, "planted"); err == nil {
			t.Fatal("a refused post created a user")
		}
		in := decode[integrationView](t, ie.want(ie.do("GET", "/integrations/"+ie.reporter.ID, ie.t1, nil), http.StatusOK))
		if in.ClientID != "" || in.Status == "declined" {
			t.Fatalf("the integration after refused posts: %+v", in)
		}
		b.page(b.get("/console/apps"), http.StatusOK, root.Username) // still signed in
	})
}
