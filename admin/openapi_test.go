package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// The OpenAPI document is the hand-written admin/openapi.json. These tests
// hold it to the code: its structure (TestOpenAPIDocument), the routes
// setup registers (TestOpenAPIRoutes), who may read what without a token
// (TestOpenAPIPublicOnly), the request bodies' members and every answer of
// a real call through each operation (TestOpenAPIAnswers, and
// TestOpenAPIOutage for 503).

// openAPI is the parsed document; numbers stay json.Number.
type openAPI map[string]any

func loadOpenAPI(t *testing.T) openAPI {
	t.Helper()
	var doc openAPI
	dec := json.NewDecoder(bytes.NewReader(openAPIDoc))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("admin/openapi.json is not JSON: %v", err)
	}
	return doc
}

// resolve follows a local JSON pointer ("#/components/schemas/Client").
func (d openAPI) resolve(ref string) (any, error) {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not local", ref)
	}
	var cur any = map[string]any(d)
	for _, tok := range strings.Split(p, "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok || m[tok] == nil {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
		cur = m[tok]
	}
	return cur, nil
}

// deref follows $ref until it reaches an object without one.
func (d openAPI) deref(t *testing.T, v any) map[string]any {
	t.Helper()
	for range 10 {
		m, _ := v.(map[string]any)
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		var err error
		if v, err = d.resolve(ref); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("$ref chain too long at %v", v)
	return nil
}

// operation is one method of one path of the document.
type operation struct {
	key    string // "POST /clients/{id}/rotate", as the mux patterns read
	method string
	path   string
	op     map[string]any
	params []map[string]any // the path item's and the operation's, resolved
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func (d openAPI) operations(t *testing.T) map[string]*operation {
	t.Helper()
	out := map[string]*operation{}
	paths, _ := d["paths"].(map[string]any)
	for path, raw := range paths {
		item, _ := raw.(map[string]any)
		var shared []map[string]any
		for _, p := range asList(item["parameters"]) {
			shared = append(shared, d.deref(t, p))
		}
		for name, v := range item {
			if !slices.Contains(httpMethods, name) {
				continue
			}
			o := &operation{key: strings.ToUpper(name) + " " + path, method: strings.ToUpper(name), path: path, op: v.(map[string]any)}
			o.params = append(o.params, shared...)
			for _, p := range asList(o.op["parameters"]) {
				o.params = append(o.params, d.deref(t, p))
			}
			out[o.key] = o
		}
	}
	return out
}

func asList(v any) []any { l, _ := v.([]any); return l }

// pathParam matches a template parameter ("{app_id}").
var pathParam = regexp.MustCompile(`\{([^}]*)\}`)

// fill puts value in for every template parameter of path.
func fill(path, value string) string { return pathParam.ReplaceAllString(path, value) }

// walk calls fn on every JSON value under v, with its location.
func walk(v any, at string, fn func(v any, at string)) {
	fn(v, at)
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			walk(x[k], at+"/"+k, fn)
		}
	case []any:
		for i, e := range x {
			walk(e, at+"/"+strconv.Itoa(i), fn)
		}
	}
}

// The document is well-formed OpenAPI 3.1 as far as a structural check
// goes: version and info, every $ref resolves and every component is
// used, every operation has an id, a summary, declared tags and at least
// one 2xx answer with a description, every path parameter of a template is
// declared (required) and nothing else is, security names declared
// schemes, and every schema uses only the keywords the tests' validator
// knows. Served, it names the mount point as its server.
func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	info, _ := doc["info"].(map[string]any)
	if s, _ := info["title"].(string); s == "" {
		t.Error("info.title is missing")
	}
	if s, _ := info["version"].(string); s == "" {
		t.Error("info.version is missing")
	}
	if !bytes.HasPrefix(openAPIDoc, []byte(openAPIHead)) || doc["servers"] != nil {
		t.Errorf("the document must begin with %q and name no servers: openAPIFor adds them", openAPIHead)
	}

	refs := map[string]bool{}
	walk(map[string]any(doc), "#", func(v any, at string) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		if ref, ok := m["$ref"].(string); ok {
			refs[ref] = true
			if _, err := doc.resolve(ref); err != nil {
				t.Errorf("%s: %v", at, err)
			}
		}
	})
	components, _ := doc["components"].(map[string]any)
	for kind, v := range components {
		for name := range v.(map[string]any) {
			if kind != "securitySchemes" && !refs["#/components/"+kind+"/"+name] {
				t.Errorf("components/%s/%s is never used", kind, name)
			}
		}
	}
	schemes, _ := components["securitySchemes"].(map[string]any)
	checkSecurity := func(at string, v any) {
		for _, req := range asList(v) {
			for name := range req.(map[string]any) {
				if schemes[name] == nil {
					t.Errorf("%s: security scheme %q is not declared", at, name)
				}
			}
		}
	}
	if len(asList(doc["security"])) == 0 {
		t.Error("the document sets no default security")
	}
	checkSecurity("security", doc["security"])
	if b, _ := schemes["bearer"].(map[string]any); b["type"] != "http" || b["scheme"] != "bearer" || b["bearerFormat"] != "JWT" {
		t.Errorf("securitySchemes.bearer = %v, want an http bearer JWT scheme", b)
	}

	tags := map[string]bool{}
	for _, tag := range asList(doc["tags"]) {
		tags[tag.(map[string]any)["name"].(string)] = true
	}
	ids := map[string]string{}
	statusKey := regexp.MustCompile(`^[1-5]([0-9][0-9]|XX)$`)
	for _, o := range doc.operations(t) {
		id, _ := o.op["operationId"].(string)
		if id == "" || ids[id] != "" {
			t.Errorf("%s: operationId %q is missing or also %s's", o.key, id, ids[id])
		}
		ids[id] = o.key
		if s, _ := o.op["summary"].(string); s == "" {
			t.Errorf("%s: no summary", o.key)
		}
		for _, tag := range asList(o.op["tags"]) {
			if !tags[tag.(string)] {
				t.Errorf("%s: tag %q is not declared", o.key, tag)
			}
		}
		checkSecurity(o.key, o.op["security"])

		inTemplate := map[string]bool{}
		for _, m := range pathParam.FindAllStringSubmatch(o.path, -1) {
			inTemplate[m[1]] = true
		}
		declared := map[string]bool{}
		for _, p := range o.params {
			name, in := p["name"].(string), p["in"].(string)
			if declared[in+" "+name] {
				t.Errorf("%s: parameter %s %q is declared twice", o.key, in, name)
			}
			declared[in+" "+name] = true
			if in == "path" && (!inTemplate[name] || p["required"] != true) {
				t.Errorf("%s: path parameter %q is not in the template or not required", o.key, name)
			}
			if p["schema"] == nil {
				t.Errorf("%s: parameter %q has no schema", o.key, name)
			}
		}
		for name := range inTemplate {
			if !declared["path "+name] {
				t.Errorf("%s: path parameter {%s} is not declared", o.key, name)
			}
		}

		responses, _ := o.op["responses"].(map[string]any)
		success := false
		for code, r := range responses {
			if !statusKey.MatchString(code) {
				t.Errorf("%s: response key %q is not a status code", o.key, code)
			}
			success = success || code[0] == '2'
			if s, _ := doc.deref(t, r)["description"].(string); s == "" {
				t.Errorf("%s %s: no description", o.key, code)
			}
		}
		if !success {
			t.Errorf("%s: no 2xx answer", o.key)
		}
		if rb := o.op["requestBody"]; rb != nil && doc.deref(t, rb)["content"] == nil {
			t.Errorf("%s: requestBody without content", o.key)
		}
	}

	// Every schema, wherever it is, uses only keywords the validator knows.
	walk(map[string]any(doc), "#", func(v any, at string) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		var schemas []any
		if strings.HasSuffix(at, "/components/schemas") {
			schemas = slices.Collect(maps.Values(m))
		} else if s, ok := m["schema"]; ok {
			schemas = []any{s}
		}
		for _, s := range schemas {
			if err := doc.checkKeywords(s); err != nil {
				t.Errorf("%s: %v", at, err)
			}
		}
	})

	for base, want := range map[string]string{"": "/", "/admin": "/admin", `/a"b`: `/a"b`} {
		var served struct {
			OpenAPI string `json:"openapi"`
			Servers []struct {
				URL string `json:"url"`
			} `json:"servers"`
		}
		if err := json.Unmarshal(openAPIFor(base), &served); err != nil {
			t.Fatalf("served with base %q: %v", base, err)
		}
		if served.OpenAPI != "3.1.0" || len(served.Servers) != 1 || served.Servers[0].URL != want {
			t.Errorf("served with base %q: %+v, want the server %q", base, served, want)
		}
	}
}

// Every operation the document describes is a route setup registers, and
// every registered route is described, with the same method and path
// template; a request by the documented method to the documented path (its
// parameters filled in) reaches that very route, not a 404 or a 405.
func TestOpenAPIRoutes(t *testing.T) {
	e := newEnv(t, store.SQLite)
	doc := loadOpenAPI(t)
	ops := doc.operations(t)
	registered := map[string]bool{}
	for _, pattern := range e.h.routes {
		if registered[pattern] {
			t.Errorf("route %q is registered twice", pattern)
		}
		registered[pattern] = true
		if ops[pattern] == nil {
			t.Errorf("route %q is not in admin/openapi.json", pattern)
		}
	}
	if len(registered) < 30 {
		t.Fatalf("only %d routes recorded: setup no longer records them", len(registered))
	}
	for _, key := range slices.Sorted(maps.Keys(ops)) {
		o := ops[key]
		if !registered[key] {
			t.Errorf("admin/openapi.json describes %s, which is no route", key)
		}
		r := httptest.NewRequest(o.method, fill(o.path, "x1"), nil)
		if _, pattern := e.h.mux.Handler(r); pattern != key {
			t.Errorf("%s %s reaches route %q, want %q", o.method, r.URL.Path, pattern, key)
		}
	}
}

// Only GET (and HEAD) /openapi.json answers without a token, whatever the
// token or its absence: every other route (the document names them all,
// TestOpenAPIRoutes), other methods on that path and paths that merely
// resemble it get 401 as the document describes it; a token without admin
// power gets the documented 403 on every route. The document itself comes
// with an ETag, naming the mount point as its server.
func TestOpenAPIPublicOnly(t *testing.T) {
	e := newEnv(t, store.SQLite)
	doc := loadOpenAPI(t)
	ops := doc.operations(t)
	reader, _ := e.adminToken(store.DefaultTenantID, "demo.read")

	for _, key := range slices.Sorted(maps.Keys(ops)) {
		o := ops[key]
		if sec, ok := o.op["security"]; ok && len(asList(sec)) == 0 {
			if key != "GET "+openAPIPath {
				t.Errorf("%s is documented as needing no token; only %s may be", key, openAPIPath)
			}
			continue
		}
		path := fill(o.path, "x1")
		checkAnswer(t, doc, o, e.do(o.method, path, "", nil), http.StatusUnauthorized)
		checkAnswer(t, doc, o, e.do(o.method, path, reader, nil), http.StatusForbidden)
	}
	for _, r := range []struct{ method, path string }{
		{"POST", "/openapi.json"}, {"PUT", "/openapi.json"}, {"DELETE", "/openapi.json"}, {"PATCH", "/openapi.json"},
		{"GET", "/openapi.json/"}, {"GET", "//openapi.json"}, {"GET", "/x/../openapi.json"}, {"GET", "/openapi.json/../clients"},
		{"GET", "/OpenAPI.json"}, {"GET", "/openapi.yaml"}, {"GET", "/openapi.json.bak"}, {"GET", "/no-such-route"},
	} {
		w := e.do(r.method, r.path, "", nil)
		if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("%s %s without a token: %d %s, want 401", r.method, r.path, w.Code, w.Body.String())
		}
	}
	if w := e.do("POST", "/openapi.json", e.super, nil); w.Code != http.StatusMethodNotAllowed || !strings.Contains(w.Header().Get("Allow"), "GET") {
		t.Errorf("POST /openapi.json as a super admin: %d, Allow %q; want 405 allowing GET", w.Code, w.Header().Get("Allow"))
	}

	o := ops["GET "+openAPIPath]
	for _, tok := range []string{"", e.super, "not-a-jwt"} {
		w := checkAnswer(t, doc, o, e.do("GET", openAPIPath+"?x=1", tok, nil), http.StatusOK)
		if !bytes.Equal(w.Body.Bytes(), openAPIFor("")) {
			t.Fatalf("token %q: the document served differs from openAPIFor(\"\")", tok)
		}
	}
	w := e.do("HEAD", openAPIPath, "", nil)
	etag := w.Header().Get("ETag")
	if w.Code != http.StatusOK || w.Body.Len() != 0 || etag == "" || w.Header().Get("Content-Length") != strconv.Itoa(len(openAPIFor(""))) {
		t.Fatalf("HEAD: %d, ETag %q, Content-Length %q, %d bytes", w.Code, etag, w.Header().Get("Content-Length"), w.Body.Len())
	}
	if w := e.do("GET", openAPIPath, "", nil, "If-None-Match", etag); w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match of the ETag: %d, want 304", w.Code)
	}

	// Mounted with handle_path /admin/*, as the README shows.
	r := httptest.NewRequest("GET", openAPIPath, nil)
	orig := httptest.NewRequest("GET", "/admin"+openAPIPath, nil)
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.OriginalRequestCtxKey, *orig))
	var served struct {
		Servers []struct {
			URL string `json:"url"`
		} `json:"servers"`
	}
	if err := json.Unmarshal(e.want(e.serve(r), http.StatusOK).Body.Bytes(), &served); err != nil || len(served.Servers) != 1 || served.Servers[0].URL != "/admin" {
		t.Errorf("mounted at /admin: servers %+v (%v), want /admin", served.Servers, err)
	}
}

// While the database is unavailable, every operation that documents 503
// answers it as documented (a problem with Retry-After) to a token that
// cannot be checked, and no operation that needs a token fails to
// document it.
func TestOpenAPIOutage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := outageEnv(t, driver)
		doc := loadOpenAPI(t)
		unchecked, _ := e.adminToken(store.DefaultTenantID, scope.Admin)
		e.want(e.do("GET", "/clients", e.super, nil), http.StatusOK)
		e.outage.Cut(t, e.app.Store())
		for _, o := range doc.operations(t) {
			if _, ok := o.op["responses"].(map[string]any)["503"]; !ok {
				if sec, ok := o.op["security"]; !ok || len(asList(sec)) > 0 {
					t.Errorf("%s needs a token, which is checked in the database, but documents no 503", o.key)
				}
				continue
			}
			checkAnswer(t, doc, o, e.do(o.method, fill(o.path, "x1"), unchecked, nil), http.StatusServiceUnavailable)
		}
	})
}

// Through every operation, on both databases, with real resources: every
// status the document lists for an operation is answered by a real call
// (but 503, TestOpenAPIOutage, and the exceptions named below), and every
// answer met is documented for its operation, with the documented content
// type, headers and body (no member missing or undocumented). For each
// request body: the documented members are those of the Go struct it is
// decoded into; a body of the required members alone succeeds, and one
// missing any of them is a 400 naming it; each documented member of the
// wrong JSON type is a 400 naming it (so it exists, with that type); an
// undocumented member is a 400 naming it; an absent required body, a body
// that is not JSON and one over 64 KiB get the documented 400, 415 and
// 413. Ids that do not exist get the documented 404; no token, a token
// without admin power and a repeated Authorization header the documented
// 401, 403 and 400.
func TestOpenAPIAnswers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		c := newAPICheck(t, e)
		tenantAdmin, _ := e.adminToken(store.DefaultTenantID, scope.TenantAdmin)

		acme := "/tenants/" + c.call("POST /tenants", "/tenants", map[string]any{"name": "Acme"}, http.StatusCreated)["id"].(string)
		c.answer("POST /tenants", "/tenants", e.super, map[string]any{"name": "Acme"}, http.StatusConflict)
		c.answer("POST /tenants", "/tenants", tenantAdmin, map[string]any{"name": "Other"}, http.StatusForbidden)
		c.call("GET /tenants", "/tenants?limit=10", nil, http.StatusOK)
		c.answer("GET /tenants", "/tenants?limit=0", e.super, nil, http.StatusBadRequest)
		c.call("GET /tenants/{id}", acme, nil, http.StatusOK)

		reporter := map[string]any{"name": "reporter", "scopes": []string{"demo.read"}}
		id := c.call("POST /clients", "/clients", reporter, http.StatusCreated)["client_id"].(string)
		client := "/clients/" + id
		c.answer("POST /clients", "/clients", e.super, reporter, http.StatusConflict)
		studio := map[string]any{"name": "studio", "scopes": []string{"demo.read"}}
		c.call("POST /clients/ensure", "/clients/ensure", studio, http.StatusCreated)
		c.call("POST /clients/ensure", "/clients/ensure", studio, http.StatusOK)
		c.call("GET /clients", "/clients?offset=1", nil, http.StatusOK)
		c.call("GET /clients/{id}", client, nil, http.StatusOK)
		c.call("PATCH /clients/{id}", client, map[string]any{"redirect_uris": []string{"https://reporter.example/cb"}}, http.StatusOK)
		c.answer("PATCH /clients/{id}", client, e.super, map[string]any{"name": "studio"}, http.StatusConflict)
		c.call("GET /clients/{id}/secret", client+"/secret", nil, http.StatusOK)
		c.call("POST /clients/{id}/rotate", client+"/rotate", nil, http.StatusOK)
		c.call("POST /clients/{id}/disable", client+"/disable", nil, http.StatusOK)
		c.answer("POST /clients/{id}/disable", "/clients/"+e.superID+"/disable", e.super, nil, http.StatusConflict)
		c.call("POST /clients/{id}/restore", client+"/restore", nil, http.StatusOK)
		c.call("POST /clients/{id}/revoke_tokens", client+"/revoke_tokens", nil, http.StatusOK)
		c.answer("POST /clients/{id}/revoke_tokens", "/clients/"+e.superID+"/revoke_tokens", e.super, nil, http.StatusConflict)

		body := map[string]any{"name": "Reporter app", "scopes": []string{"demo.read", "demo.write"}, "tenant_ids": []string{store.DefaultTenantID}}
		app := "/apps/" + c.call("POST /apps", "/apps", body, http.StatusCreated)["id"].(string)
		c.call("GET /apps", "/apps", nil, http.StatusOK)
		c.call("GET /apps/{id}", app, nil, http.StatusOK)
		c.call("PATCH /apps/{id}", app, map[string]any{"description": "Builds reports."}, http.StatusOK)
		body["name"] = "Declined app"
		declined := "/integrations/" + c.call("POST /apps", "/apps", body, http.StatusCreated)["id"].(string)

		in := "/integrations/" + strings.TrimPrefix(app, "/apps/")
		c.call("GET /integrations", "/integrations", nil, http.StatusOK)
		c.call("GET /integrations/{app_id}", in, nil, http.StatusOK)
		c.call("POST /integrations/{app_id}/allow", in+"/allow", nil, http.StatusCreated)
		c.answer("POST /integrations/{app_id}/allow", in+"/allow", e.super, nil, http.StatusConflict)
		c.call("POST /integrations/{app_id}/disable", in+"/disable", nil, http.StatusOK)
		c.call("POST /integrations/{app_id}/restore", in+"/restore?tenant_id="+store.DefaultTenantID, nil, http.StatusOK)
		c.answer("POST /integrations/{app_id}/decline", in+"/decline", e.super, nil, http.StatusConflict)
		c.call("POST /integrations/{app_id}/decline", declined+"/decline", nil, http.StatusOK)
		c.answer("POST /integrations/{app_id}/disable", declined+"/disable", e.super, nil, http.StatusConflict)
		c.answer("POST /integrations/{app_id}/restore", declined+"/restore", e.super, nil, http.StatusConflict)

		userID := c.call("POST /users", "/users", map[string]any{"username": "ada"}, http.StatusCreated)["id"].(string)
		user := "/users/" + userID
		c.answer("POST /users", "/users", e.super, map[string]any{"username": "ada"}, http.StatusConflict)
		c.call("GET /users", "/users?tenant_id="+store.DefaultTenantID, nil, http.StatusOK)
		c.call("GET /users/{id}", user, nil, http.StatusOK)
		c.call("PATCH /users/{id}", user, map[string]any{"display_name": "Ada", "password": "correct horse battery"}, http.StatusOK)
		if err := e.app.Store().SaveConsent(context.Background(), userID, id, []string{"demo.read"}); err != nil {
			t.Fatal(err)
		}
		c.call("DELETE /users/{id}/consents/{client_id}", user+"/consents/"+id, nil, http.StatusNoContent)

		c.call("GET /scopes", "/scopes", nil, http.StatusOK)
		c.call("GET /keys", "/keys", nil, http.StatusOK)
		c.call("POST /keys/rotate", "/keys/rotate", nil, http.StatusOK)
		c.answer("POST /keys/rotate", "/keys/rotate", e.super, nil, http.StatusConflict)
		c.call("GET /audit", "/audit?limit=500", nil, http.StatusOK)
		// Preconditions: a version that is gone is 412 for reads and every
		// change; the current one is 304 for a read naming it.
		gone := []string{"If-Match", `"gone"`}
		for key, path := range map[string]string{"GET /clients/{id}": client, "GET /apps/{id}": app, "GET /users/{id}": user} {
			c.conditional(key, path, nil, http.StatusPreconditionFailed, gone...)
			tag := e.want(e.do("GET", path, e.super, nil), http.StatusOK).Header().Get("ETag")
			c.conditional(key, path, nil, http.StatusNotModified, "If-None-Match", tag)
		}
		c.conditional("PATCH /clients/{id}", client, map[string]any{"name": "reporter"}, http.StatusPreconditionFailed, gone...)
		c.conditional("PATCH /apps/{id}", app, map[string]any{"description": "x"}, http.StatusPreconditionFailed, gone...)
		c.conditional("PATCH /users/{id}", user, map[string]any{"display_name": "x"}, http.StatusPreconditionFailed, gone...)
		for _, action := range []string{"rotate", "disable", "restore", "revoke_tokens"} {
			c.conditional("POST /clients/{id}/"+action, client+"/"+action, nil, http.StatusPreconditionFailed, gone...)
		}
		c.conditional("DELETE /clients/{id}", client, nil, http.StatusPreconditionFailed, gone...)
		c.answer("DELETE /clients/{id}", "/clients/"+e.superID, e.super, nil, http.StatusConflict)
		c.call("DELETE /clients/{id}", client, nil, http.StatusNoContent)
		c.call("GET /openapi.json", "/openapi.json", nil, http.StatusOK)

		unmet := map[string]string{
			"POST /clients/ensure 409": "only when concurrent ensures of one name keep colliding",
		}
		for _, key := range slices.Sorted(maps.Keys(c.ops)) {
			for code := range c.ops[key].op["responses"].(map[string]any) {
				if code != "503" && !c.seen[key+" "+code] && unmet[key+" "+code] == "" {
					t.Errorf("no real call answered %s with %s as documented", key, code)
				}
			}
		}
	})
}

// bodyTypes are the Go structs each operation decodes its body into; the
// document must describe exactly their members.
var bodyTypes = map[string]reflect.Type{
	"POST /clients":                       reflect.TypeFor[clientBody](),
	"POST /clients/ensure":                reflect.TypeFor[clientBody](),
	"PATCH /clients/{id}":                 reflect.TypeFor[clientBody](),
	"POST /clients/{id}/rotate":           reflect.TypeFor[rotateBody](),
	"POST /apps":                          reflect.TypeFor[appBody](),
	"PATCH /apps/{id}":                    reflect.TypeFor[appBody](),
	"POST /integrations/{app_id}/allow":   reflect.TypeFor[allowBody](),
	"POST /integrations/{app_id}/decline": reflect.TypeFor[struct{}](),
	"POST /integrations/{app_id}/disable": reflect.TypeFor[struct{}](),
	"POST /integrations/{app_id}/restore": reflect.TypeFor[struct{}](),
	"POST /users":                         reflect.TypeFor[newUserBody](),
	"PATCH /users/{id}":                   reflect.TypeFor[userPatchBody](),
	"POST /tenants":                       reflect.TypeFor[tenantBody](),
	"POST /keys/rotate":                   reflect.TypeFor[keyRotateBody](),
}

// apiCheck runs real calls and holds each answer to the document.
type apiCheck struct {
	t      *testing.T
	e      *env
	doc    openAPI
	ops    map[string]*operation
	reader string          // a token without admin power
	seen   map[string]bool // "POST /clients 201": a real call answered it
}

func newAPICheck(t *testing.T, e *env) *apiCheck {
	c := &apiCheck{t: t, e: e, doc: loadOpenAPI(t), seen: map[string]bool{}}
	c.ops = c.doc.operations(t)
	c.reader, _ = e.adminToken(store.DefaultTenantID, "demo.read")
	return c
}

// op returns the operation key names, which path must reach.
func (c *apiCheck) op(key, path string) *operation {
	c.t.Helper()
	o := c.ops[key]
	if o == nil {
		c.t.Fatalf("%s is not in the document", key)
	}
	if _, pattern := c.e.h.mux.Handler(httptest.NewRequest(o.method, path, nil)); pattern != key {
		c.t.Fatalf("%s %s reaches %q, not %s", o.method, path, pattern, key)
	}
	return o
}

// check is checkAnswer that records the status as met.
func (c *apiCheck) check(o *operation, w *httptest.ResponseRecorder, want int) *httptest.ResponseRecorder {
	c.t.Helper()
	checkAnswer(c.t, c.doc, o, w, want)
	c.seen[o.key+" "+strconv.Itoa(want)] = true
	return w
}

// call checks the answers op gives to bad requests (its request body rules
// when it has a body; ids that do not exist; no token, a token without
// admin power, a repeated Authorization header), then sends body to path
// (op's template filled in) as the super admin and expects want; it
// returns the answer's JSON object, if any.
func (c *apiCheck) call(key, path string, body any, want int) map[string]any {
	t := c.t
	t.Helper()
	o := c.op(key, path)
	if rb := o.op["requestBody"]; rb != nil {
		c.checkBody(o, c.doc.deref(t, rb), path, body)
	} else if body != nil {
		t.Fatalf("%s documents no request body", key)
	} else if bodyTypes[key] != nil {
		t.Fatalf("%s reads a %v body, which the document does not describe", key, bodyTypes[key])
	}
	if sec, ok := o.op["security"]; !ok || len(asList(sec)) > 0 {
		if pathParam.MatchString(o.path) {
			c.check(o, c.e.do(o.method, c.missing(o, path), c.e.super, body), http.StatusNotFound)
		}
		c.check(o, c.e.do(o.method, path, "", body), http.StatusUnauthorized)
		c.check(o, c.e.do(o.method, path, c.reader, body), http.StatusForbidden)
		r := httptest.NewRequest(o.method, path, nil)
		r.Header.Add("Authorization", "Bearer "+c.e.super)
		r.Header.Add("Authorization", "Bearer "+c.e.super)
		c.check(o, c.e.serve(r), http.StatusBadRequest)
	}
	return c.answer(key, path, c.e.super, body, want)
}

// answer sends body to path as tok (no token where the document needs
// none), expects want and returns the answer's JSON object, if any.
func (c *apiCheck) answer(key, path, tok string, body any, want int) map[string]any {
	c.t.Helper()
	o := c.op(key, path)
	if sec, ok := o.op["security"]; ok && len(asList(sec)) == 0 {
		tok = ""
	}
	w := c.check(o, c.e.do(o.method, path, tok, body), want)
	var out map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	return out
}

// conditional sends body to path as the super admin with a precondition
// header (hdr: name, value) and expects want: 304 for a read naming the
// current version, 412 for one naming a version that is gone.
func (c *apiCheck) conditional(key, path string, body any, want int, hdr ...string) {
	c.t.Helper()
	o := c.op(key, path)
	c.check(o, c.e.do(o.method, path, c.e.super, body, hdr...), want)
}

// missing is path with every parameter of o's template an id that does
// not exist.
func (c *apiCheck) missing(o *operation, path string) string {
	tmpl, segs := strings.Split(o.path, "/"), strings.Split(strings.SplitN(path, "?", 2)[0], "/")
	for i, s := range tmpl {
		if pathParam.MatchString(s) {
			segs[i] = "no-such-id"
		}
	}
	return strings.Join(segs, "/")
}

// checkBody holds op's request body rules to the handler, with body (nil:
// none) as a valid one.
func (c *apiCheck) checkBody(o *operation, rb map[string]any, path string, body any) {
	t := c.t
	t.Helper()
	media, _ := rb["content"].(map[string]any)["application/json"].(map[string]any)
	if media == nil {
		t.Fatalf("%s: the request body is not application/json", o.key)
	}
	schema := media["schema"]
	props, required, closed := c.doc.members(t, schema)

	typ := bodyTypes[o.key]
	if typ == nil {
		t.Fatalf("%s: bodyTypes does not say which struct its body decodes into", o.key)
	}
	var members []string
	for i := range typ.NumField() {
		if name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			members = append(members, name)
		}
	}
	if documented := slices.Sorted(maps.Keys(props)); !slices.Equal(documented, slices.Sorted(slices.Values(members))) {
		t.Errorf("%s: the document describes body members %v, the handler reads %v", o.key, documented, slices.Sorted(slices.Values(members)))
	}
	if !closed {
		t.Errorf("%s: the handler refuses unknown members; the body schema should say additionalProperties: false", o.key)
	}

	valid := map[string]any{}
	if given := slices.Sorted(maps.Keys(mapOf(body))); len(required) > 0 && !slices.Equal(given, slices.Sorted(slices.Values(required))) {
		// The call succeeding then proves nothing else is required.
		t.Fatalf("%s: give the required members %v alone, not %v", o.key, required, given)
	}
	if body == nil {
		if rb["required"] == true {
			t.Fatalf("%s: the body is required", o.key)
		}
	} else {
		raw, _ := json.Marshal(body)
		if err := json.Unmarshal(raw, &valid); err != nil {
			t.Fatal(err)
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		_ = dec.Decode(&v)
		if errs := c.doc.validate(schema, v, "body"); len(errs) > 0 {
			t.Fatalf("%s: the valid body %s breaks the documented schema: %v", o.key, raw, errs)
		}
	}
	with := func(k string, v any) map[string]any {
		m := maps.Clone(valid)
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	names := func(field string, b map[string]any) *httptest.ResponseRecorder {
		t.Helper()
		w := c.check(o, c.e.do(o.method, path, c.e.super, b), http.StatusBadRequest)
		p := decode[problem](t, w)
		if !slices.Contains(fields(p), field) {
			t.Errorf("%s with %v: the 400 names %v, not %q", o.key, b, fields(p), field)
		}
		return w
	}

	if rb["required"] == true {
		c.check(o, c.e.do(o.method, path, c.e.super, nil), http.StatusBadRequest)
	}
	for _, field := range required {
		names(field, with(field, nil))
	}
	names("zz_undocumented", with("zz_undocumented", 1))
	for _, name := range slices.Sorted(maps.Keys(props)) {
		w := names(name, with(name, wrongType(props[name])))
		for _, f := range decode[problem](t, w).Errors {
			if f.Field == name && !strings.HasPrefix(f.Message, "must be ") {
				t.Errorf("%s: member %q of the wrong type: %q, want a type error", o.key, name, f.Message)
			}
		}
	}
	raw, _ := json.Marshal(valid)
	c.check(o, c.e.do(o.method, path, c.e.super, string(raw), "Content-Type", "text/plain"), http.StatusUnsupportedMediaType)
	big := `{"zz": "` + strings.Repeat("a", maxBody) + `"}`
	c.check(o, c.e.do(o.method, path, c.e.super, big), http.StatusRequestEntityTooLarge)
}

// wrongType is a JSON value that is not of the type prop documents.
func wrongType(prop any) any {
	s, _ := prop.(map[string]any)
	switch s["type"] {
	case "string":
		return 12345
	case "boolean", "integer", "array":
		return "x"
	}
	return true
}

// members collects a body schema's properties (through $ref and allOf),
// its required members and whether it refuses others.
func (d openAPI) members(t *testing.T, schema any) (props map[string]any, required []string, closed bool) {
	t.Helper()
	props = map[string]any{}
	var visit func(v any)
	visit = func(v any) {
		s := d.deref(t, v)
		for k, p := range mapOf(s["properties"]) {
			props[k] = d.deref(t, p)
		}
		for _, r := range asList(s["required"]) {
			required = append(required, r.(string))
		}
		closed = closed || s["additionalProperties"] == false
		for _, sub := range asList(s["allOf"]) {
			visit(sub)
		}
	}
	visit(schema)
	return props, required, closed
}

// checkAnswer fails unless w has status want and the document describes
// that answer of o: its content type, required headers and body.
func checkAnswer(t *testing.T, doc openAPI, o *operation, w *httptest.ResponseRecorder, want int) *httptest.ResponseRecorder {
	t.Helper()
	if w.Code != want {
		t.Fatalf("%s: status %d, want %d: %s", o.key, w.Code, want, w.Body.String())
	}
	raw := o.op["responses"].(map[string]any)[strconv.Itoa(w.Code)]
	if raw == nil {
		t.Fatalf("%s answered %d, which the document does not list: %s", o.key, w.Code, w.Body.String())
	}
	resp := doc.deref(t, raw)
	for name, h := range mapOf(resp["headers"]) {
		if doc.deref(t, h)["required"] == true && w.Header().Get(name) == "" {
			t.Errorf("%s %d: no %s header", o.key, w.Code, name)
		}
	}
	content := mapOf(resp["content"])
	if len(content) == 0 {
		if w.Body.Len() != 0 {
			t.Errorf("%s %d: a body the document does not describe: %s", o.key, w.Code, w.Body.String())
		}
		return w
	}
	mt, _, _ := mime.ParseMediaType(w.Header().Get("Content-Type"))
	media := mapOf(content[mt])
	if media == nil {
		t.Fatalf("%s %d: Content-Type %q is not among %v", o.key, w.Code, mt, slices.Sorted(maps.Keys(content)))
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s %d: the body is not JSON: %v", o.key, w.Code, err)
	}
	if errs := doc.validate(media["schema"], v, "body"); len(errs) > 0 {
		t.Errorf("%s %d: the answer breaks the documented schema:\n\t%s\n%s", o.key, w.Code, strings.Join(errs, "\n\t"), w.Body.String())
	}
	return w
}

func mapOf(v any) map[string]any { m, _ := v.(map[string]any); return m }

// The JSON Schema keywords the document may use: those validate checks and
// the annotations it may ignore.
var (
	checkedKeywords    = []string{"$ref", "allOf", "type", "const", "enum", "properties", "required", "additionalProperties", "items", "minItems", "minimum", "maximum", "minLength", "maxLength", "pattern", "format"}
	annotationKeywords = []string{"description", "default", "examples", "writeOnly", "readOnly", "title"}
)

// checkKeywords reports a keyword of schema (or of a schema in it) that
// validate does not know, so the document cannot say what is not checked.
func (d openAPI) checkKeywords(schema any) error {
	s, ok := schema.(map[string]any)
	if !ok {
		return fmt.Errorf("a schema is not an object: %v", schema)
	}
	for k, v := range s {
		if !slices.Contains(checkedKeywords, k) && !slices.Contains(annotationKeywords, k) {
			return fmt.Errorf("schema keyword %q is not checked by openapi_test.go's validator", k)
		}
		var subs []any
		switch k {
		case "properties":
			subs = slices.Collect(maps.Values(v.(map[string]any)))
		case "items":
			subs = []any{v}
		case "allOf":
			subs = asList(v)
		case "additionalProperties":
			if _, ok := v.(bool); !ok {
				subs = []any{v}
			}
		}
		for _, sub := range subs {
			if err := d.checkKeywords(sub); err != nil {
				return err
			}
		}
	}
	return nil
}

// validate checks v against schema; an object with documented properties
// must hold no other member (stricter than JSON Schema, so every member the
// API answers is documented).
func (d openAPI) validate(schema any, v any, at string) []string {
	s, _ := schema.(map[string]any)
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	if ref, ok := s["$ref"].(string); ok {
		target, err := d.resolve(ref)
		if err != nil {
			return []string{at + ": " + err.Error()}
		}
		errs = append(errs, d.validate(target, v, at)...)
	}
	for _, sub := range asList(s["allOf"]) {
		errs = append(errs, d.validate(sub, v, at)...)
	}
	if typ, ok := s["type"]; ok {
		var types []string
		if one, ok := typ.(string); ok {
			types = []string{one}
		} else {
			for _, t := range asList(typ) {
				types = append(types, t.(string))
			}
		}
		if !slices.Contains(types, jsonType(v)) && !(jsonType(v) == "integer" && slices.Contains(types, "number")) {
			fail("%s, want %v", jsonType(v), types)
			return errs
		}
	}
	if c, ok := s["const"]; ok && !reflect.DeepEqual(c, v) {
		fail("%v, want %v", v, c)
	}
	if enum, ok := s["enum"]; ok && !slices.ContainsFunc(asList(enum), func(e any) bool { return reflect.DeepEqual(e, v) }) {
		fail("%v is not one of %v", v, enum)
	}
	switch x := v.(type) {
	case map[string]any:
		props, hasProps := s["properties"].(map[string]any)
		for _, r := range asList(s["required"]) {
			if _, ok := x[r.(string)]; !ok {
				fail("member %q is missing", r)
			}
		}
		for k, mv := range x {
			p, ok := props[k]
			switch {
			case ok:
				errs = append(errs, d.validate(p, mv, at+"."+k)...)
			case s["additionalProperties"] == false || (hasProps && s["additionalProperties"] == nil):
				fail("member %q is not documented", k)
			case s["additionalProperties"] != nil:
				errs = append(errs, d.validate(s["additionalProperties"], mv, at+"."+k)...)
			}
		}
	case []any:
		if n, ok := s["minItems"].(json.Number); ok && int64(len(x)) < mustInt(n) {
			fail("%d items, want at least %s", len(x), n)
		}
		for i, e := range x {
			if items, ok := s["items"]; ok {
				errs = append(errs, d.validate(items, e, at+"["+strconv.Itoa(i)+"]")...)
			}
		}
	case json.Number:
		f, _ := x.Float64()
		if n, ok := s["minimum"].(json.Number); ok && f < float64(mustInt(n)) {
			fail("%s is below %s", x, n)
		}
		if n, ok := s["maximum"].(json.Number); ok && f > float64(mustInt(n)) {
			fail("%s is above %s", x, n)
		}
	case string:
		runes := int64(len([]rune(x)))
		if n, ok := s["minLength"].(json.Number); ok && runes < mustInt(n) {
			fail("%q is shorter than %s", x, n)
		}
		if n, ok := s["maxLength"].(json.Number); ok && runes > mustInt(n) {
			fail("%q is longer than %s", x, n)
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(x) {
			fail("%q does not match %s", x, p)
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				fail("%q is not a date-time", x)
			}
		}
	}
	return errs
}

func mustInt(n json.Number) int64 {
	i, err := n.Int64()
	if err != nil {
		panic(err)
	}
	return i
}

// jsonType is the JSON Schema type of a decoded value.
func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// outageEnv is an env whose database can be cut (storetest.Outage).
type outageTestEnv struct {
	*env
	outage *storetest.Outage
}

func outageEnv(t *testing.T, driver string) outageTestEnv {
	t.Helper()
	o := storetest.NewOutage(t, driver)
	e := newEnv(t, driver, func(a *app.App) { a.Database.DSN = o.DSN })
	return outageTestEnv{env: e, outage: o}
}
