package admin

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store/storetest"
)

// Conditional edits: a client's, an app's and a user's answers carry an
// ETag that changes with every change and is the same in a PATCH's answer
// as in the GET after it. A PATCH naming the version read (If-Match) is
// applied; one naming an older version is 412 and changes nothing, so an
// admin who read the scopes, added one and sent the list back does not
// drop the scope another admin added meanwhile; "*" matches, a weak tag
// never does; If-Unmodified-Since before the last change is 412, after it
// passes. Without a precondition an edit applies to the row as it is.
func TestConditionalEdits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ifMatch := func(tag string) []string { return []string{"If-Match", tag} }
		tagOf := func(w interface{ Header() http.Header }) string {
			t.Helper()
			tag := w.Header().Get("ETag")
			if !strings.HasPrefix(tag, `"`) || !strings.HasSuffix(tag, `"`) || len(tag) < 3 {
				t.Fatalf("ETag %q", tag)
			}
			return tag
		}

		c := e.create(e.super, map[string]any{"name": "app", "scopes": []string{"demo.read"}})
		path := "/clients/" + c.ClientID
		read := tagOf(e.want(e.do("GET", path, e.super, nil), http.StatusOK))

		// Another admin adds a scope without a precondition: applied.
		other := e.want(e.do("PATCH", path, e.super, map[string]any{"scopes": []string{"demo.read", "demo.write"}}), http.StatusOK)
		if tagOf(other) == read {
			t.Fatal("the ETag did not change with the edit")
		}
		// The first admin sends back the list it read, plus its own scope,
		// naming the version it read: 412, and the other's scope stays.
		p := problemOf(t, e.do("PATCH", path, e.super, map[string]any{"scopes": []string{"demo.read", "global"}}, ifMatch(read)...), http.StatusPreconditionFailed)
		if !strings.Contains(p.Detail, "changed since") {
			t.Fatalf("412 detail %q", p.Detail)
		}
		now := e.want(e.do("GET", path, e.super, nil), http.StatusOK)
		if got := decode[clientView](t, now); !slices.Equal(got.Scopes, []string{"demo.read", "demo.write"}) {
			t.Fatalf("after the refused edit the scopes are %v", got.Scopes)
		}
		current := tagOf(now)
		if current != tagOf(other) {
			t.Fatalf("the PATCH answered ETag %s, the GET after it %s", tagOf(other), current)
		}
		// Read again, the edit applies; its answer's tag is the next GET's.
		done := e.want(e.do("PATCH", path, e.super, map[string]any{"scopes": []string{"demo.read", "demo.write", "global"}}, ifMatch(`"nope", `+current)...), http.StatusOK)
		if next := tagOf(e.want(e.do("GET", path, e.super, nil), http.StatusOK)); tagOf(done) != next || next == current {
			t.Fatalf("PATCH answered %s, GET %s (before %s)", tagOf(done), next, current)
		}
		e.want(e.do("PATCH", path, e.super, map[string]any{"name": "app2"}, ifMatch("*")...), http.StatusOK)
		weak := "W/" + tagOf(e.want(e.do("GET", path, e.super, nil), http.StatusOK))
		problemOf(t, e.do("PATCH", path, e.super, map[string]any{"name": "app3"}, ifMatch(weak)...), http.StatusPreconditionFailed)
		problemOf(t, e.do("PATCH", path, e.super, map[string]any{"name": "app3"}, "If-Unmodified-Since", "Sat, 01 Jan 2000 00:00:00 GMT"), http.StatusPreconditionFailed)
		e.want(e.do("PATCH", path, e.super, map[string]any{"name": "app4"}, "If-Unmodified-Since", "Fri, 01 Jan 2100 00:00:00 GMT"), http.StatusOK)
		if got := decode[clientView](t, e.want(e.do("GET", path, e.super, nil), http.StatusOK)); got.Name != "app4" {
			t.Fatalf("name %q, want app4 (app3 was refused twice)", got.Name)
		}

		// Users: the same, decided on the locked row.
		u := decode[userView](t, e.want(e.do("POST", "/users", e.super, map[string]any{"username": "ada"}), http.StatusCreated))
		upath := "/users/" + u.ID
		uread := tagOf(e.want(e.do("GET", upath, e.super, nil), http.StatusOK))
		uother := tagOf(e.want(e.do("PATCH", upath, e.super, map[string]any{"display_name": "Ada"}), http.StatusOK))
		problemOf(t, e.do("PATCH", upath, e.super, map[string]any{"email": "ada@example.com"}, ifMatch(uread)...), http.StatusPreconditionFailed)
		if got := tagOf(e.want(e.do("GET", upath, e.super, nil), http.StatusOK)); got != uother {
			t.Fatalf("user: PATCH answered %s, GET %s", uother, got)
		}
		e.want(e.do("PATCH", upath, e.super, map[string]any{"email": "ada@example.com"}, ifMatch(uother)...), http.StatusOK)

		// Apps.
		e.tenant("dev")
		a := decode[appView](t, e.want(e.do("POST", "/apps", e.super, map[string]any{
			"name": "Reporter", "scopes": []string{"demo.read"}, "tenant_ids": []string{"t1"}, "developer_tenant_id": "dev",
		}), http.StatusCreated))
		apath := "/apps/" + a.ID
		aread := tagOf(e.want(e.do("GET", apath, e.super, nil), http.StatusOK))
		e.want(e.do("PATCH", apath, e.super, map[string]any{"tenant_ids": []string{"t1", "t2"}}), http.StatusOK)
		problemOf(t, e.do("PATCH", apath, e.super, map[string]any{"tenant_ids": []string{"t1", "t3"}}, ifMatch(aread)...), http.StatusPreconditionFailed)
		if got := decode[appView](t, e.want(e.do("GET", apath, e.super, nil), http.StatusOK)); !slices.Equal(got.TenantIDs, []string{"t1", "t2"}) {
			t.Fatalf("app tenants %v after the refused edit", got.TenantIDs)
		}
	})
}

// If-None-Match (RFC 9110 §13.1.2): a PATCH naming the current version, or
// "*" (the row exists), is 412 and changes nothing, also after an If-Match
// that holds; naming another version it applies. A GET naming the current
// version (weak or strong) is 304 with the ETag, the 200's Cache-Control
// and no body, as is one whose If-Modified-Since is not before the last
// change, unless its If-Match fails (412). Dates are compared with the
// change to the nanosecond. Clients and users alike (apps share the code).
func TestIfNoneMatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		c := e.create(e.super, map[string]any{"name": "inm", "scopes": []string{"demo.read"}})
		u := e.user("default", "inm-user")
		for _, tc := range []struct{ path, field string }{
			{"/clients/" + c.ClientID, "name"},
			{"/users/" + u.ID, "display_name"},
		} {
			got := e.want(e.do("GET", tc.path, e.super, nil), http.StatusOK)
			tag := got.Header().Get("ETag")
			for _, cond := range []string{tag, "*", `"other", ` + tag} {
				problemOf(t, e.do("PATCH", tc.path, e.super, map[string]any{tc.field: "changed"}, "If-None-Match", cond), http.StatusPreconditionFailed)
			}
			if now := e.want(e.do("GET", tc.path, e.super, nil), http.StatusOK); now.Header().Get("ETag") != tag {
				t.Fatalf("%s: a refused PATCH changed the row", tc.path)
			}
			for _, cond := range []string{tag, "W/" + tag, "*"} {
				w := e.do("GET", tc.path, e.super, nil, "If-None-Match", cond)
				if w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("ETag") != tag {
					t.Fatalf("%s GET If-None-Match %s: %d %q body %q, want 304 with the ETag", tc.path, cond, w.Code, w.Header().Get("ETag"), w.Body)
				}
			}
			ims := time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)
			if w := e.do("GET", tc.path, e.super, nil, "If-Modified-Since", ims); w.Code != http.StatusNotModified {
				t.Fatalf("%s GET If-Modified-Since after the last change: %d, want 304", tc.path, w.Code)
			}
			old := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
			if w := e.do("GET", tc.path, e.super, nil, "If-Modified-Since", old); w.Code != http.StatusOK {
				t.Fatalf("%s GET If-Modified-Since before the last change: %d, want 200", tc.path, w.Code)
			}
			if w := e.do("GET", tc.path, e.super, nil, "If-None-Match", tag); w.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("%s: a 304 without the 200's Cache-Control: %v", tc.path, w.Header())
			}
			// §13.2.2 order: If-Match first, on a GET too; If-None-Match
			// still counts after an If-Match that holds.
			e.want(e.do("GET", tc.path, e.super, nil, "If-Match", `"old"`, "If-None-Match", tag), http.StatusPreconditionFailed)
			e.want(e.do("PATCH", tc.path, e.super, map[string]any{tc.field: "changed"}, "If-Match", tag, "If-None-Match", "*"), http.StatusPreconditionFailed)
			// A date in the second of the last change, which came after
			// its start: the change counts as after it (no stale 304, and
			// no edit over a change its sender never read).
			row := e.want(e.do("GET", tc.path, e.super, nil), http.StatusOK)
			stamp := decode[struct {
				UpdatedAt time.Time `json:"updated_at"`
			}](t, row)
			if stamp.UpdatedAt.Nanosecond() != 0 {
				sameSecond := stamp.UpdatedAt.UTC().Format(http.TimeFormat)
				e.want(e.do("GET", tc.path, e.super, nil, "If-Modified-Since", sameSecond), http.StatusOK)
				e.want(e.do("PATCH", tc.path, e.super, map[string]any{tc.field: "changed"}, "If-Unmodified-Since", sameSecond), http.StatusPreconditionFailed)
			}
			e.want(e.do("GET", tc.path, e.super, nil, "If-None-Match", `"other"`), http.StatusOK)
			e.want(e.do("PATCH", tc.path, e.super, map[string]any{tc.field: "changed"}, "If-None-Match", `"other"`), http.StatusOK)
		}
	})
}
