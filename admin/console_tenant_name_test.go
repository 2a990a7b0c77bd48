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

// postFrom submits a sign-in form as b does, from the client address ip.
func (b *browser) postFrom(ip, path string, form url.Values) *httptest.ResponseRecorder {
	b.e.t.Helper()
	form.Set("csrf", b.csrf)
	r := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "http://"+r.Host) // a browser's same-origin post
	r.RemoteAddr = ip + ":40000"
	return b.send(r)
}

// TestConsoleSignInByTenantName checks that the console's sign-in form
// takes a tenant's name as well as its id (the form says "Tenant (id or
// name)"): the name signs an admin of that tenant in, a name in another
// letter case does not, the id still does; and the two spellings share one
// count of failed attempts, so alternating them gets no more guesses for a
// user (each attempt from its own address here, so that only the user's
// count can refuse).
func TestConsoleSignInByTenantName(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		const id = "0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f"
		if err := e.app.Store().CreateTenant(context.Background(), &store.Tenant{ID: id, Name: "Initech"}, store.Actor{Principal: "test"}); err != nil {
			t.Fatal(err)
		}
		e.adminUser(id, "boss")
		e.adminUser(id, "guarded")

		b := e.browser()
		b.page(b.get("/"), http.StatusOK, `<label for="tenant">Tenant (id or name)</label>`)
		w := b.post("/console/signin", url.Values{"tenant": {"initech"}, "username": {"boss"}, "password": {consolePassword}})
		b.page(w, http.StatusUnauthorized, "Wrong tenant, username or password", `value="initech"`)
		b.signIn("Initech", "boss")
		// Signed in to Initech: its users are the ones listed.
		b.page(b.get("/console/users"), http.StatusOK, "guarded")
		e.browser().signIn(id, "boss")

		c := e.browser()
		c.get("/")
		for i, tenant := range []string{"Initech", id, "Initech", id, "Initech"} {
			w := c.postFrom("192.0.2."+string(rune('1'+i)), "/console/signin", url.Values{"tenant": {tenant}, "username": {"guarded"}, "password": {"not the password"}})
			c.page(w, http.StatusUnauthorized)
		}
		w = c.postFrom("192.0.2.9", "/console/signin", url.Values{"tenant": {id}, "username": {"guarded"}, "password": {consolePassword}})
		c.page(w, http.StatusTooManyRequests, "Too many failed sign-ins")
	})
}
