package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Bodies are read strictly and every failure is a problem, never a 500 or a
// partial write: over 64 KiB is 413 (declared or not), a non-JSON content
// type or a content coding is 415, broken JSON, a non-object, trailing data and a missing body
// are 400, and an unknown member, a wrong type, a repeated member or one
// whose name matches only when case is ignored is 400 naming the member;
// invalid UTF-8 is 400 too.
func TestBodyErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		big := `{"name":"` + strings.Repeat("a", maxBody) + `","scopes":["demo.read"]}`

		problemOf(t, e.do("POST", "/clients", e.super, big), http.StatusRequestEntityTooLarge)
		// Without a Content-Length the limit still holds while reading.
		chunked := e.doChunked("POST", "/clients", big)
		problemOf(t, chunked, http.StatusRequestEntityTooLarge)
		problemOf(t, e.do("PATCH", "/clients/"+e.superID, e.super, `{"name":"x"} `+strings.Repeat(" ", maxBody)), http.StatusRequestEntityTooLarge)

		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "nonsense;;"} {
			problemOf(t, e.do("POST", "/clients", e.super, `{"name":"x","scopes":["demo.read"]}`, "Content-Type", ct), http.StatusUnsupportedMediaType)
		}
		e.want(e.do("POST", "/clients", e.super, `{"name":"ok","scopes":["demo.read"]}`, "Content-Type", "application/json; charset=utf-8"), http.StatusCreated)
		// Patch formats mean other things (merge patch removes a member sent
		// as null, which keeps it here), and JSON is UTF-8: 415, nothing
		// changed. ASCII and UTF-8 spelled otherwise pass.
		for _, ct := range []string{"application/merge-patch+json", "application/json-patch+json",
			"application/json; charset=latin1", "application/json; charset=utf-16"} {
			problemOf(t, e.do("PATCH", "/clients/"+e.superID, e.super, `{"name":"renamed"}`, "Content-Type", ct), http.StatusUnsupportedMediaType)
		}
		for _, ct := range []string{"application/json; charset=UTF8", "application/json;charset=US-ASCII", "application/problem+json"} {
			e.want(e.do("PATCH", "/clients/"+e.superID, e.super, `{"default_scopes":[]}`, "Content-Type", ct), http.StatusOK)
		}
		// Two Content-Type headers: a layer in front may read the other.
		two := httptest.NewRequest("POST", "/clients", strings.NewReader(`{"name":"two types","scopes":["demo.read"]}`))
		two.Header["Content-Type"] = []string{"application/json", "text/plain"}
		two.Header.Set("Authorization", "Bearer "+e.super)
		problemOf(t, e.serve(two), http.StatusBadRequest)
		// A content-coded body is never decoded here: 415 with
		// Accept-Encoding: identity, and nothing made.
		for _, ce := range []string{"gzip", "identity, br"} {
			w := e.do("POST", "/clients", e.super, `{"name":"coded","scopes":["demo.read"]}`, "Content-Encoding", ce)
			problemOf(t, w, http.StatusUnsupportedMediaType)
			if got := w.Header().Get("Accept-Encoding"); got != "identity" {
				t.Fatalf("Content-Encoding %q: Accept-Encoding %q, want identity", ce, got)
			}
		}
		e.want(e.do("POST", "/clients", e.super, `{"name":"plain","scopes":["demo.read"]}`, "Content-Encoding", "identity"), http.StatusCreated)

		for name, body := range map[string]string{
			"broken":     `{"name":`,
			"garbage":    `name=x`,
			"array":      `[{"name":"x"}]`,
			"string":     `"x"`,
			"trailing":   `{"name":"y","scopes":["demo.read"]} {}`,
			"empty":      ``,
			"only space": `   `,
		} {
			p := problemOf(t, e.do("POST", "/clients", e.super, body), http.StatusBadRequest)
			if len(p.Errors) != 0 {
				t.Errorf("%s: errors %+v for a body that is not an object", name, p.Errors)
			}
		}

		p := problemOf(t, e.do("POST", "/clients", e.super, `{"name":"x","scopes":["demo.read"],"scope":"typo"}`), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"scope"}) {
			t.Fatalf("unknown member: errors %+v", p.Errors)
		}
		p = problemOf(t, e.do("POST", "/clients/"+e.superID+"/rotate", e.super, `{"grace":0}`), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"grace"}) {
			t.Fatalf("unknown rotate member: errors %+v", p.Errors)
		}
		p = problemOf(t, e.do("POST", "/clients/"+e.superID+"/rotate", e.super, `{"grace_seconds":-1}`), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"grace_seconds"}) {
			t.Fatalf("negative grace: errors %+v", p.Errors)
		}
		p = problemOf(t, e.do("POST", "/clients/"+e.superID+"/rotate", e.super, `{"grace_seconds":1.5}`), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"grace_seconds"}) {
			t.Fatalf("fractional grace: errors %+v", p.Errors)
		}

		// What encoding/json would let through without a word: a member
		// given twice (it keeps the last: here the harmless scope, while a
		// layer in front reading the first saw scopegate.admin), a member
		// matching a field only when case is ignored, and bytes that are not
		// UTF-8 or escaped lone surrogates (it would store U+FFFD). Each is 400
		// naming the member.
		for name, tc := range map[string]struct{ body, field string }{
			"repeated member":    {`{"name":"dup","scopes":["scopegate.admin"],"scopes":["demo.read"]}`, "scopes"},
			"upper-case member":  {`{"NAME":"caseins","scopes":["demo.read"]}`, "NAME"},
			"mixed-case member":  {`{"name":"caseins","Scopes":["demo.read"]}`, "Scopes"},
			"repeated, escaped":  {`{"name":"dup","na\u006de":"other","scopes":["demo.read"]}`, "name"},
			"invalid UTF-8 name": {"{\"name\":\"a\xffb\",\"scopes\":[\"demo.read\"]}", ""},
			// An escaped lone surrogate would be stored as U+FFFD.
			"lone surrogate":   {`{"name":"a\ud800b","scopes":["demo.read"]}`, "name"},
			"replacement char": {"{\"name\":\"a\uFFFDb\",\"scopes\":[\"demo.read\"]}", "name"},
		} {
			p := problemOf(t, e.do("POST", "/clients", e.super, tc.body), http.StatusBadRequest)
			if tc.field != "" && !slices.Equal(fields(p), []string{tc.field}) {
				t.Errorf("%s: errors %+v, want one naming %q", name, p.Errors, tc.field)
			}
			if tc.field == "" && !strings.Contains(p.Detail, "UTF-8") {
				t.Errorf("%s: %+v, want it to say the body is not UTF-8", name, p)
			}
		}
		p = problemOf(t, e.do("PATCH", "/clients/"+e.superID, e.super, `{"name":"a","name":"b"}`), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"name"}) {
			t.Fatalf("repeated member in a patch: errors %+v", p.Errors)
		}

		list := decode[list[clientView]](t, e.do("GET", "/clients", e.super, nil))
		if list.Total != 3 { // the super admin's own, "ok" and "plain"
			t.Fatalf("refused bodies wrote clients: total %d", list.Total)
		}
		if c, _ := e.app.Store().GetClient(context.Background(), e.superID); c.Name == "x" {
			t.Fatal("an oversized patch was applied")
		}
	})
}

// Query parameters are checked like bodies: offset and limit must be whole
// numbers in range and a tenant filter must be a possible id, each named;
// a malformed or repeated parameter refuses the whole query.
func TestQueryErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		for query, want := range map[string][]string{
			"offset=-1":                  {"offset"},
			"offset=x":                   {"offset"},
			"limit=0":                    {"limit"},
			"limit=501":                  {"limit"},
			"limit=99999999999999999999": {"limit"},
			"offset=x&limit=x":           {"offset", "limit"},
			"tenant_id=%00":              {"tenant_id"},
		} {
			for _, path := range []string{"/clients", "/users", "/audit"} {
				p := problemOf(t, e.do("GET", path+"?"+query, e.super, nil), http.StatusBadRequest)
				if !slices.Equal(fields(p), want) {
					t.Errorf("%s?%s: fields %v, want %v", path, query, fields(p), want)
				}
			}
		}
		// A query read only in part is refused as a whole: a malformed
		// pair (dropped, it listed the default 50, or acted on the
		// caller's own tenant) and a repeated parameter (the first won).
		for query, want := range map[string]string{
			"limit=%zz":                 "malformed",
			"limit=1;x":                 "malformed",
			"tenant_id=default%zz":      "malformed",
			"limit=1&limit=3":           `"limit" is repeated`,
			"tenant_id=a&tenant_id=b":   `"tenant_id" is repeated`,
			"offset=0&x=%zz&limit=5":    "malformed",
			"unknown=1&unknown=2&limit": `"unknown" is repeated`,
		} {
			for _, path := range []string{"/clients", "/users", "/integrations/x/allow"} {
				method := "GET"
				if strings.HasSuffix(path, "/allow") {
					method = "POST"
				}
				if p := problemOf(t, e.do(method, path+"?"+query, e.super, nil), http.StatusBadRequest); !strings.Contains(p.Detail, want) {
					t.Errorf("%s %s?%s: %q, want it to say %s", method, path, query, p.Detail, want)
				}
			}
		}
		if l := decode[list[tenantView]](t, e.want(e.do("GET", "/tenants?limit=500&offset=0", e.super, nil), http.StatusOK)); l.Limit != 500 || l.Items[0].ID != store.DefaultTenantID {
			t.Fatalf("tenants = %+v", l)
		}
	})
}

// A body's strings may not hold bidirectional controls or invisible
// characters (a right-to-left override in a name reverses the page text
// after it); letters of every script, emoji and the zero-width joiners
// those need are fine. Control characters are printable's concern.
func TestInvisible(t *testing.T) {
	for s, want := range map[string]bool{
		"Ada Lovelace":       false,
		"Zoë, 東京, مرحبا":     false,
		"👩\u200d💻 dev":       false,
		"می\u200cخواهم":      false,
		"Evil \u202egnp.exe": true,
		"a\u2066b\u2069":     true,
		"a\u200bb":           true,
		"\ufeffa":            true,
		"a\u200fb":           true,
		"admin\u00ad":        true,
		"admin\U000E0020":    true,
		"a\u2028b":           true,
		"\u3164":             true,
	} {
		if got := strings.IndexFunc(s, invisible) >= 0; got != want {
			t.Errorf("%q holds an invisible character: %v, want %v", s, got, want)
		}
	}
	if !printable("a\u202eb") || printable("a\x00b") || printable("\xff") {
		t.Error("printable is about control characters and UTF-8 only")
	}
}

// An invalid body's answer stays small: a field lists at most five
// problems and then says there are more, and a message naming a huge value
// is cut (6,000 unknown grant types got an answer of 827 KB).
func TestBoundedFieldErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		many := make([]string, 6000)
		for i := range many {
			many[i] = fmt.Sprintf("g%d", i)
		}
		w := e.do("POST", "/clients", e.super, map[string]any{"name": "x", "scopes": []string{"demo.read"}, "grant_types": many})
		p := problemOf(t, w, http.StatusBadRequest)
		if n := len(fields(p)); n != maxErrorsPerField+1 || w.Body.Len() > 4096 {
			t.Fatalf("6,000 unknown grant types: %d errors in %d bytes, want %d in a few KB", n, w.Body.Len(), maxErrorsPerField+1)
		}
		if last := p.Errors[len(p.Errors)-1].Message; !strings.Contains(last, "more values are invalid") {
			t.Fatalf("the last error does not say there are more: %q", last)
		}
		w = e.do("POST", "/clients", e.super, map[string]any{"name": "x", "scopes": []string{strings.Repeat("s", 60_000)}})
		p = problemOf(t, w, http.StatusBadRequest)
		if w.Body.Len() > 4096 {
			t.Fatalf("a 60 KB unknown scope: an answer of %d bytes", w.Body.Len())
		}
	})
}
