package admin

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Users are created (201, default tenant the caller's), listed page by
// page, read and patched; a duplicate username in a tenant is 409; and
// disabling a user makes its 3-legged tokens fail verification at once
// (the handler drops the cached user), restoring it brings them back.
func TestUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		e.tenant("acme")

		ada := decode[userView](t, e.want(e.do("POST", "/users", e.super, map[string]any{
			"username": "ada", "display_name": "Ada Lovelace", "email": "ada@example.com", "admin": true,
		}), http.StatusCreated))
		if ada.ID == "" || ada.TenantID != store.DefaultTenantID || ada.Username != "ada" || ada.DisplayName != "Ada Lovelace" ||
			ada.Email != "ada@example.com" || !ada.Admin || ada.Disabled || ada.CreatedAt.IsZero() {
			t.Fatalf("create answered %+v", ada)
		}
		if _, err := e.app.Store().GetUser(ctx, ada.ID); err != nil {
			t.Fatalf("created user not stored: %v", err)
		}
		problemOf(t, e.do("POST", "/users", e.super, map[string]any{"username": "ada"}), http.StatusConflict)
		e.want(e.do("POST", "/users", e.super, map[string]any{"username": "ada", "tenant_id": "acme"}), http.StatusCreated)
		e.want(e.do("POST", "/users", e.super, map[string]any{"username": "bob"}), http.StatusCreated)

		page := decode[list[userView]](t, e.want(e.do("GET", "/users?tenant_id=default&limit=1&offset=1", e.super, nil), http.StatusOK))
		if page.Total != 2 || len(page.Items) != 1 || page.Items[0].Username != "bob" {
			t.Fatalf("users page = %+v", page)
		}
		if all := decode[list[userView]](t, e.do("GET", "/users", e.super, nil)); all.Total != 3 {
			t.Fatalf("all users: total %d, want 3", all.Total)
		}
		got := decode[userView](t, e.want(e.do("GET", "/users/"+ada.ID, e.super, nil), http.StatusOK))
		got.CreatedAt, got.UpdatedAt = ada.CreatedAt, ada.UpdatedAt // PostgreSQL keeps microseconds only
		if got != ada {
			t.Fatalf("get = %+v, want %+v", got, ada)
		}
		problemOf(t, e.do("GET", "/users/nope", e.super, nil), http.StatusNotFound)

		tok := e.sign(e.superID, store.DefaultTenantID, ada.ID, "demo.read")
		if _, err := e.app.Verify(ctx, tok); err != nil {
			t.Fatalf("token of the active user: %v", err)
		}
		off := decode[userView](t, e.want(e.do("PATCH", "/users/"+ada.ID, e.super, map[string]any{
			"disabled": true, "display_name": "A. L.", "email": "", "admin": false,
		}), http.StatusOK))
		if !off.Disabled || off.DisplayName != "A. L." || off.Email != "" || off.Admin || off.Username != "ada" {
			t.Fatalf("patch answered %+v", off)
		}
		if _, err := e.app.Verify(ctx, tok); !errors.Is(err, app.ErrUserDisabled) {
			t.Fatalf("token of the disabled user: err = %v, want ErrUserDisabled", err)
		}
		e.want(e.do("PATCH", "/users/"+ada.ID, e.super, map[string]any{"disabled": false}), http.StatusOK)
		if _, err := e.app.Verify(ctx, tok); err != nil {
			t.Fatalf("token of the restored user: %v", err)
		}

		var actions []string
		entries, _, _ := e.app.Store().ListAudit(ctx, store.DefaultTenantID, store.Page{Limit: 100})
		for _, a := range entries {
			if a.Target == ada.ID {
				actions = append(actions, a.Action)
			}
		}
		if want := []string{"user.restore", "user.disable", "user.create"}; !slices.Equal(actions, want) {
			t.Fatalf("audit trail of the user = %v, want %v", actions, want)
		}
	})
}

// Every invalid user field is named: missing, blank, overlong or
// control-character username; overlong display name; malformed email;
// unknown tenant; wrong types and unknown members (username is not
// editable), and a username that is another user's id. Nothing is written.
func TestUserValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		cases := []struct {
			name string
			body any
			want []string
		}{
			{"missing username", map[string]any{}, []string{"username"}},
			{"blank username", map[string]any{"username": " "}, []string{"username"}},
			{"long username", map[string]any{"username": strings.Repeat("u", 201)}, []string{"username"}},
			{"NUL username", map[string]any{"username": "a\x00"}, []string{"username"}},
			{"right-to-left override in username", map[string]any{"username": "u\u202e1"}, []string{"username"}},
			{"zero-width space in display name", map[string]any{"username": "u", "display_name": "a\u200bb"}, []string{"display_name"}},
			{"long display name", map[string]any{"username": "u", "display_name": strings.Repeat("d", 201)}, []string{"display_name"}},
			{"bad email", map[string]any{"username": "u", "email": "not an email"}, []string{"email"}},
			{"named email", map[string]any{"username": "u", "email": "Ada <ada@example.com>"}, []string{"email"}},
			{"unknown tenant", map[string]any{"username": "u", "tenant_id": "nope"}, []string{"tenant_id"}},
			{"admin as string", `{"username":"u","admin":"yes"}`, []string{"admin"}},
			{"several", map[string]any{"username": "", "email": "x", "tenant_id": "nope"}, []string{"username", "email", "tenant_id"}},
		}
		for _, tc := range cases {
			p := problemOf(t, e.do("POST", "/users", e.super, tc.body), http.StatusBadRequest)
			for _, f := range tc.want {
				if !slices.Contains(fields(p), f) {
					t.Errorf("%s: errors %+v do not name %q", tc.name, p.Errors, f)
				}
			}
		}
		if all := decode[list[userView]](t, e.do("GET", "/users", e.super, nil)); all.Total != 0 {
			t.Fatalf("refused creates wrote %d users", all.Total)
		}

		u := e.user(store.DefaultTenantID, "u")
		// Users are found by id or username: a username that is another
		// user's id in the tenant is refused; another tenant's id, or any
		// UUID-shaped name (Nitro's own user ids), is a name like others.
		p := problemOf(t, e.do("POST", "/users", e.super, map[string]any{"username": u.ID}), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"username"}) {
			t.Fatalf("username equal to a user's id: errors %+v", p.Errors)
		}
		e.tenant("acme")
		e.want(e.do("POST", "/users", e.super, map[string]any{"username": u.ID, "tenant_id": "acme"}), http.StatusCreated)
		e.want(e.do("POST", "/users", e.super, map[string]any{"username": store.NewID()}), http.StatusCreated)
		for name, body := range map[string]any{
			"bad email":        map[string]any{"email": "@"},
			"control in name":  map[string]any{"display_name": "a\nb"},
			"username changed": map[string]any{"username": "v"},
			"disabled as int":  `{"disabled":1}`,
		} {
			p := problemOf(t, e.do("PATCH", "/users/"+u.ID, e.super, body), http.StatusBadRequest)
			if len(p.Errors) != 1 {
				t.Errorf("patch %s: errors %+v, want one", name, p.Errors)
			}
		}
		if got, _ := e.app.Store().GetUser(context.Background(), u.ID); got.Username != "u" || got.Email != "" || got.Disabled {
			t.Fatalf("refused patches changed the user: %+v", got)
		}
	})
}

// Rules added later apply to what a request sends, never to values stored
// before them: a user whose display name holds a right-to-left mark, and a
// client whose redirect URI host a later rule refuses, can still be
// disabled, given a password or narrowed, through the same PATCH the
// console and the CLI send.
func TestOlderValuesDoNotBlockChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		u := e.user(store.DefaultTenantID, "dana")
		u.DisplayName = "דנה (Dana)\u200f"
		if err := e.app.Store().UpdateUser(ctx, u, store.Actor{Principal: "test"}, "user.update"); err != nil {
			t.Fatal(err)
		}
		e.want(e.do("PATCH", "/users/"+u.ID, e.super, map[string]any{"password": "a long enough password"}), http.StatusOK)
		e.want(e.do("PATCH", "/users/"+u.ID, e.super, map[string]any{"disabled": true}), http.StatusOK)
		// Sending such a value is refused.
		problemOf(t, e.do("PATCH", "/users/"+u.ID, e.super, map[string]any{"display_name": "x\u202ey"}), http.StatusBadRequest)

		created := decode[map[string]any](t, e.want(e.do("POST", "/clients", e.super, map[string]any{
			"name": "old", "scopes": []string{"demo.read", "demo.write"}, "auth_method": "user", "redirect_uris": []string{"https://app.example/cb"},
		}), http.StatusCreated))
		id := created["client_id"].(string)
		cl, err := e.app.Store().GetClient(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		cl.RedirectURIs = store.Strings{"https://a,b/cb"}
		if err := e.app.Store().UpdateClient(ctx, cl, store.Actor{Principal: "test"}, "client.update"); err != nil {
			t.Fatal(err)
		}
		e.want(e.do("PATCH", "/clients/"+id, e.super, map[string]any{"scopes": []string{"demo.read"}, "default_scopes": []string{"demo.read"}}), http.StatusOK)
		e.want(e.do("POST", "/clients/"+id+"/disable", e.super, nil), http.StatusOK)
		problemOf(t, e.do("PATCH", "/clients/"+id, e.super, map[string]any{"redirect_uris": []string{"https://a,b/cb"}}), http.StatusBadRequest)
	})
}
