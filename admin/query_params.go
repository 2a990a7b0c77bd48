package admin

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// Query parameters each route reads. A parameter a route does not read is
// refused rather than ignored: a mistyped filter (?tenant=acme for
// ?tenant_id=acme, ?limt=5) would otherwise answer as if it were not there,
// listing everything the caller may see, and a script would act on a list it
// did not ask for.
var (
	pageParams   = []string{"offset", "limit"}
	tenantParams = []string{"offset", "limit", "tenant_id"}
)

var routeQueryParams = map[string][]string{
	"GET /clients":                        tenantParams,
	"GET /users":                          tenantParams,
	"GET /audit":                          tenantParams,
	"GET /tenants":                        pageParams,
	"GET /apps":                           {"offset", "limit", "developer_tenant_id"},
	"GET /integrations":                   tenantParams,
	"GET /integrations/{app_id}":          {"tenant_id"},
	"POST /integrations/{app_id}/allow":   {"tenant_id"},
	"POST /integrations/{app_id}/decline": {"tenant_id"},
	"POST /integrations/{app_id}/disable": {"tenant_id"},
	"POST /integrations/{app_id}/restore": {"tenant_id"},
}

// unknownQueryParam refuses a query parameter that route pattern does not
// read (queryProblem has already refused a malformed or repeated one).
func unknownQueryParam(pattern string, r *http.Request) *problem {
	if r.URL.RawQuery == "" {
		return nil
	}
	q, _ := url.ParseQuery(r.URL.RawQuery)
	allowed := routeQueryParams[pattern]
	var unknown []string
	for k := range q {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	name := unknown[0]
	if len(name) > 40 {
		name = name[:40] + "…"
	}
	if len(allowed) == 0 {
		return newProblem(http.StatusBadRequest, "unknown query parameter %q: this route takes none", name)
	}
	return newProblem(http.StatusBadRequest, "unknown query parameter %q: this route takes %s", name, strings.Join(allowed, ", "))
}
