package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A request with more than one Authorization header is refused with 400
// invalid_request in RFC 6750 form (a Bearer challenge naming the error and
// the same fields as a JSON body), as the guard does, whichever header
// comes first: two valid admin tokens, an empty header before a valid one,
// and on the console's root path too. The refused POST creates nothing.
func TestRepeatedAuthorizationHeader(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		for _, tc := range []struct {
			name, method, path string
			values             []string
		}{
			{"two admin tokens", "POST", "/clients", []string{"Bearer " + e.super, "Bearer " + e.super}},
			{"empty then valid", "GET", "/clients", []string{"", "Bearer " + e.super}},
			{"valid then basic", "GET", "/clients", []string{"Bearer " + e.super, "Basic YTpi"}},
			{"console root", "GET", "/", []string{"", "Bearer " + e.super}},
		} {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(`{"name":"dup","scopes":["demo.read"]}`))
			r.Header.Set("Content-Type", "application/json")
			r.Header["Authorization"] = tc.values
			w := e.serve(r)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("%s: status = %d, want 400; body %s", tc.name, w.Code, w.Body.String())
			}
			ch := w.Header().Get("WWW-Authenticate")
			if !strings.HasPrefix(ch, `Bearer realm="scopegate-admin", error="invalid_request"`) ||
				!strings.Contains(ch, "repeated") {
				t.Fatalf("%s: WWW-Authenticate = %q", tc.name, ch)
			}
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != oauth.InvalidRequest || body.Description == "" {
				t.Fatalf("%s: body %q (%v)", tc.name, w.Body.String(), err)
			}
		}
		rows, _, err := e.app.Store().ListClients(t.Context(), store.ClientFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rows {
			if c.Name == "dup" {
				t.Fatal("a request with a repeated Authorization header created a client")
			}
		}
	})
}

// The admin API honours no impersonation header: a request naming a user in
// X-Act-As-User (any spelling) is refused with 403 insufficient_scope in
// RFC 6750 form naming the header, and the POST creates nothing; served,
// the caller asking to act as that user would have changed things as
// itself without being told. An empty value asks for nothing (201), and a
// bad token with the header is 401 invalid_token.
func TestAdminRefusesImpersonationHeaders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		for _, name := range []string{"X-Act-As-User", "X_act_as_user"} {
			r := httptest.NewRequest("POST", "/clients", strings.NewReader(`{"name":"acting","scopes":["demo.read"]}`))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer "+e.super)
			r.Header[name] = []string{"someone"}
			w := e.serve(r)
			if w.Code != http.StatusForbidden {
				t.Fatalf("%s: status = %d, want 403; body %s", name, w.Code, w.Body.String())
			}
			if ch := w.Header().Get("WWW-Authenticate"); !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, "impersonation ("+name+")") {
				t.Fatalf("%s: WWW-Authenticate = %q", name, ch)
			}
		}
		rows, _, err := e.app.Store().ListClients(t.Context(), store.ClientFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rows {
			if c.Name == "acting" {
				t.Fatal("a request naming a user to act as created a client")
			}
		}
		e.want(e.do("POST", "/clients", e.super, `{"name":"plain","scopes":["demo.read"]}`, "X-Act-As-User", ""), http.StatusCreated)
		// A bad token is told so first (401 invalid_token, so its client
		// gets a new one), whatever else the request carries.
		w := e.do("GET", "/clients", "not-a-valid-token", nil, "X-Act-As-User", "someone")
		if ch := w.Header().Get("WWW-Authenticate"); w.Code != http.StatusUnauthorized || !strings.Contains(ch, `error="invalid_token"`) {
			t.Fatalf("a bad token with X-Act-As-User: %d %q, want 401 invalid_token", w.Code, ch)
		}
	})
}
