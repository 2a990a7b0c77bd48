package admin

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/scopegate/scopegate/module/store/storetest"
)

// Admin answers carry strings callers chose (names, descriptions), so every
// kind of them says nosniff: a JSON answer, a problem and the OpenAPI
// document are never read by a browser as a page.
func TestAdminAnswersAreNeverSniffed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.create(e.super, map[string]any{"name": "<script>alert(1)</script>", "scopes": []string{"demo.read"}})
		for name, w := range map[string]*httptest.ResponseRecorder{
			"a JSON answer":        e.want(e.do("GET", "/clients", e.super, nil), http.StatusOK),
			"a problem":            e.want(e.do("GET", "/clients/nope", e.super, nil), http.StatusNotFound),
			"the OpenAPI document": e.want(e.do("GET", "/openapi.json", "", nil), http.StatusOK),
		} {
			if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("%s: X-Content-Type-Options %q, want nosniff", name, got)
			}
		}
	})
}
