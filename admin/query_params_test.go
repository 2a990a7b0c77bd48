package admin

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Every route reads exactly the query parameters admin/openapi.json lists
// for its operation: the refusal of unknown ones (routeQueryParams) and the
// document cannot drift apart.
func TestQueryParamsMatchTheDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := doc.operations(t)
	for _, key := range slices.Sorted(maps.Keys(ops)) {
		var documented []string
		for _, p := range ops[key].params {
			if p["in"] == "query" {
				documented = append(documented, p["name"].(string))
			}
		}
		slices.Sort(documented)
		read := slices.Sorted(slices.Values(routeQueryParams[key]))
		if !slices.Equal(documented, read) {
			t.Errorf("%s: the document lists query parameters %v, the route reads %v", key, documented, read)
		}
	}
	for pattern := range routeQueryParams {
		if ops[pattern] == nil {
			t.Errorf("routeQueryParams names %q, which is no documented route", pattern)
		}
	}
}

// A mistyped or unknown query parameter is a 400 problem naming it and what
// the route takes, on both stores, instead of an answer that ignores it (a
// list of every tenant's clients for ?tenant=acme); known parameters still
// work, and a route that takes none says so.
func TestUnknownQueryParamsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		tok, _ := e.adminToken(store.DefaultTenantID, "scopegate.admin")
		cases := []struct {
			path, name, takes string
		}{
			{"/clients?tenant=default", "tenant", "offset, limit, tenant_id"},
			{"/clients?limt=5", "limt", "offset, limit, tenant_id"},
			{"/users?limit=5&_=1700000000", "_", "offset, limit, tenant_id"},
			{"/apps?tenant_id=default", "tenant_id", "offset, limit, developer_tenant_id"},
			{"/tenants?tenant_id=default", "tenant_id", "offset, limit"},
			{"/scopes?x=1", "x", ""},
			{"/keys?limit=1", "limit", ""},
		}
		for _, c := range cases {
			rec := e.do(http.MethodGet, c.path, tok, nil)
			var p struct {
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != http.StatusBadRequest ||
				p.Status != http.StatusBadRequest || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
				t.Fatalf("GET %s: %d %s %q, want a 400 problem", c.path, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
			want := "this route takes none"
			if c.takes != "" {
				want = "this route takes " + c.takes
			}
			if !strings.Contains(p.Detail, `"`+c.name+`"`) || !strings.Contains(p.Detail, want) {
				t.Errorf("GET %s: detail %q, want it to name %q and say %q", c.path, p.Detail, c.name, want)
			}
		}
		for _, path := range []string{"/clients?tenant_id=default&limit=5&offset=0", "/apps?developer_tenant_id=default", "/tenants?limit=2", "/scopes", "/integrations?tenant_id=default"} {
			if rec := e.do(http.MethodGet, path, tok, nil); rec.Code != http.StatusOK {
				t.Errorf("GET %s: %d %s, want 200", path, rec.Code, rec.Body)
			}
		}
	})
}
