package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A client's actions honour If-Match and If-Unmodified-Since as its PATCH
// does (RFC 9110 §13.1.1, §13.1.4; races team: a DELETE naming a version
// another admin had since replaced deleted the client): naming a replaced
// version, or a date before the last change, is a 412 that changes
// nothing, for disable, restore, revoke_tokens, rotate and delete alike;
// naming the current version applies the action, and so does no
// precondition.
func TestClientActionsHonourPreconditions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		c := e.create(e.super, map[string]any{"name": "target", "scopes": []string{"demo.read"}})
		path := "/clients/" + c.ClientID
		tag := func() string { return e.want(e.do("GET", path, e.super, nil), http.StatusOK).Header().Get("ETag") }
		stored := func() *store.Client {
			cl, err := e.app.Store().GetClient(context.Background(), c.ClientID)
			if err != nil {
				t.Fatal(err)
			}
			return cl
		}
		read := tag()
		e.want(e.do("PATCH", path, e.super, map[string]any{"name": "target-renamed"}), http.StatusOK) // another admin
		past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
		actions := []struct {
			method, path string
			body         any
		}{
			{"POST", path + "/disable", nil},
			{"POST", path + "/restore", nil},
			{"POST", path + "/revoke_tokens", nil},
			{"POST", path + "/rotate", map[string]any{"grace_seconds": 0}},
			{"DELETE", path, nil},
		}
		before := stored()
		for _, a := range actions {
			for _, hdr := range [][]string{{"If-Match", read}, {"If-Unmodified-Since", past}} {
				p := problemOf(t, e.do(a.method, a.path, e.super, a.body, hdr...), http.StatusPreconditionFailed)
				if !strings.Contains(p.Detail, "changed since") {
					t.Errorf("%s %s with %s: detail %q", a.method, a.path, hdr[0], p.Detail)
				}
			}
		}
		after := stored()
		if !after.UpdatedAt.Equal(before.UpdatedAt) || after.Disabled || after.SecretDigest != before.SecretDigest ||
			after.TokenGeneration != before.TokenGeneration {
			t.Fatalf("a refused action changed the client: %+v, was %+v", after, before)
		}

		// Naming the current version, each applies.
		for _, a := range actions {
			want := http.StatusOK
			if a.method == "DELETE" {
				want = http.StatusNoContent
			}
			e.want(e.do(a.method, a.path, e.super, a.body, "If-Match", tag()), want)
		}
		if _, err := e.app.Store().GetClient(context.Background(), c.ClientID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after the conditional DELETE: %v, want the client gone", err)
		}
	})
}

// The store applies a client action with a version named (Actor.ReadAt)
// only to that version, under the row's lock: an edit saved between the
// handler's check and the action makes it ErrStale, not a change to a
// version the caller never read.
func TestClientActionsInTheStoreNeedTheVersionRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		c := e.create(e.super, map[string]any{"name": "raced", "scopes": []string{"demo.read"}})
		cl, err := e.app.Store().GetClient(ctx, c.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		old := cl.UpdatedAt.Add(-time.Millisecond)
		a := store.Actor{Principal: "test", Super: true, ReadAt: &old}
		for name, act := range map[string]func() error{
			"disable":       func() error { return e.app.Store().SetClientDisabled(ctx, cl.ID, true, a) },
			"revoke_tokens": func() error { _, err := e.app.Store().RevokeClientTokens(ctx, cl.ID, a); return err },
			"rotate":        func() error { return e.app.Store().RotateSecret(ctx, cl.ID, "d", []byte("x"), nil, a) },
			"delete":        func() error { return e.app.Store().DeleteClient(ctx, cl.ID, a) },
		} {
			if err := act(); !errors.Is(err, store.ErrStale) {
				t.Errorf("%s naming an older version: %v, want ErrStale", name, err)
			}
		}
		current := cl.UpdatedAt
		a.ReadAt = &current
		if err := e.app.Store().SetClientDisabled(ctx, cl.ID, true, a); err != nil {
			t.Fatalf("disable naming the current version: %v", err)
		}
	})
}

// A create's 201 carries the ETag, and the updated_at, every later read
// of the row shows (races team: on PostgreSQL the answer showed
// nanoseconds the database does not keep, and no ETag): a conditional
// edit may follow the create at once.
func TestCreatedAnswersCarryTheStoredVersion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		for _, tc := range []struct {
			path        string
			body, patch map[string]any
		}{
			{"/clients", map[string]any{"name": "fresh", "scopes": []string{"demo.read"}}, map[string]any{"name": "fresh2"}},
			{"/users", map[string]any{"username": "fresh-user"}, map[string]any{"display_name": "Fresh"}},
			{"/apps", map[string]any{"name": "fresh app", "scopes": []string{"demo.read"}, "tenant_ids": []string{"default"}},
				map[string]any{"description": "x"}},
		} {
			created := e.want(e.do("POST", tc.path, e.super, tc.body), http.StatusCreated)
			v := decode[struct {
				ID        string    `json:"id"`
				ClientID  string    `json:"client_id"`
				UpdatedAt time.Time `json:"updated_at"`
			}](t, created)
			id := v.ID
			if id == "" {
				id = v.ClientID
			}
			got := e.want(e.do("GET", tc.path+"/"+id, e.super, nil), http.StatusOK)
			again := decode[struct {
				UpdatedAt time.Time `json:"updated_at"`
			}](t, got)
			if tag := created.Header().Get("ETag"); tag == "" || tag != got.Header().Get("ETag") {
				t.Errorf("POST %s: ETag %q, the GET after it %q", tc.path, tag, got.Header().Get("ETag"))
			}
			if !v.UpdatedAt.Equal(again.UpdatedAt) {
				t.Errorf("POST %s: updated_at %s, the GET after it %s", tc.path, v.UpdatedAt, again.UpdatedAt)
			}
			e.want(e.do("PATCH", tc.path+"/"+id, e.super, tc.patch, "If-Match", created.Header().Get("ETag")), http.StatusOK)
		}
	})
}

// Only a named version binds an action to the row as read: If-Match: *
// holds for whatever version the action meets, and If-None-Match is settled
// before it (a review: both made a change landing in between a 412).
func TestClientActionBindsOnlyANamedVersion(t *testing.T) {
	cl := &store.Client{ID: "sg_x", TenantID: store.DefaultTenantID, UpdatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	c := &caller{principal: "p", tenant: store.DefaultTenantID}
	for _, tc := range []struct {
		hdr   []string
		binds bool
	}{
		{nil, false},
		{[]string{"If-Match", "*"}, false},
		{[]string{"If-None-Match", `"other"`}, false},
		{[]string{"If-Match", etag(cl.UpdatedAt)}, true},
		{[]string{"If-Unmodified-Since", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, true},
	} {
		r, _ := http.NewRequest("DELETE", "/clients/sg_x", nil)
		for i := 0; i+1 < len(tc.hdr); i += 2 {
			r.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
		a, err := clientAction(r, c, cl)
		if err != nil {
			t.Fatalf("%v: %v", tc.hdr, err)
		}
		if (a.ReadAt != nil) != tc.binds || (a.ReadAt != nil && !a.ReadAt.Equal(cl.UpdatedAt)) {
			t.Errorf("%v: ReadAt %v, want bound %v", tc.hdr, a.ReadAt, tc.binds)
		}
	}
}
