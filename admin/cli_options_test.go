package admin

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// The command line creates clients under the options of the config's
// scopegate_admin handler, wherever the handler sits in the HTTP routes:
// with require_connect_as in the config, a key naming no user is refused
// as the admin API refuses it (nothing is created), one naming a user is
// made and connects as that user, and an admin tool still connects as no
// one.
func TestCLIFollowsTheConfigsAdminOptions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newCLIEnv(t, driver)
		raw, err := os.ReadFile(e.cfg)
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		cfg["apps"].(map[string]any)["http"] = map[string]any{"servers": map[string]any{"srv0": map[string]any{
			"listen": []string{":0"},
			"routes": []any{map[string]any{"handle": []any{map[string]any{"handler": "subroute", "routes": []any{
				map[string]any{"handle": []any{map[string]any{"handler": "scopegate_admin", "require_connect_as": true}}},
			}}}}},
		}}}
		if raw, err = json.Marshal(cfg); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(e.cfg, raw, 0o600); err != nil {
			t.Fatal(err)
		}

		r := e.run("", "client", "create", "--name", "k", "--scope", "demo.read")
		if r.status == 0 || !strings.Contains(r.err, "connect_as_user_id: is required") || !strings.Contains(r.err, "require_connect_as") {
			t.Fatalf("a key naming no user: status %d, stderr %q", r.status, r.err)
		}
		if n := countAll(t, e); n != 0 {
			t.Fatalf("%d clients exist after the refusal", n)
		}
		bob := okJSON[userView](e, "user", "create", "--username", "bob")
		k := okJSON[clientView](e, "client", "create", "--name", "k", "--scope", "demo.read", "--connect-as-user-id", bob.ID)
		if k.ConnectAsUserID == nil || *k.ConnectAsUserID != bob.ID {
			t.Fatalf("the key naming bob: %+v", k)
		}
		if tool := okJSON[clientView](e, "client", "create", "--name", "ops", "--scope", scope.Admin); tool.ConnectAsUserID != nil {
			t.Fatalf("an admin tool connects as %v", *tool.ConnectAsUserID)
		}
	})
}

// adoptConfigOptions reads each option from any scopegate_admin handler in
// the config, in any case as Caddy reads it, and an option one handler sets
// holds even when another handler leaves it out; a config without the
// handler sets nothing.
func TestAdoptConfigOptions(t *testing.T) {
	for _, tc := range []struct {
		cfg              string
		creator, require bool
	}{
		{`{"apps":{}}`, false, false},
		{`{"apps":{"http":{"servers":{"a":{"routes":[{"handle":[{"handler":"scopegate_admin"}]}]}}}}}`, false, false},
		{`{"apps":{"http":{"servers":{"a":{"routes":[{"handle":[{"handler":"scopegate_admin","connect_as_creator":true}]}]}}}}}`, true, false},
		{`{"apps":{"http":{"servers":{"a":{"routes":[{"handle":[{"handler":"scopegate_admin"}]}]},"b":{"routes":[{"handle":[{"handler":"subroute","routes":[{"handle":[{"handler":"scopegate_admin","require_connect_as":true}]}]}]}]}}}}}`, false, true},
		{`{"apps":{"http":{"servers":{"a":{"routes":[{"handle":[{"handler":"static_response","require_connect_as":true}]}]}}}}}`, false, false},
		{`{"apps":{"http":{"servers":{"a":{"routes":[{"handle":[{"handler":"scopegate_admin","Require_Connect_As":true}]}]}}}}}`, false, true},
	} {
		var h Handler
		if err := h.adoptConfigOptions([]byte(tc.cfg)); err != nil {
			t.Fatalf("%s: %v", tc.cfg, err)
		}
		if h.ConnectAsCreator != tc.creator || h.RequireConnectAs != tc.require {
			t.Errorf("%s: connect_as_creator %v, require_connect_as %v, want %v, %v", tc.cfg, h.ConnectAsCreator, h.RequireConnectAs, tc.creator, tc.require)
		}
	}
}

// A command whose config names an SQLite file that does not exist yet (a
// wrong XDG_DATA_HOME, a config pointing elsewhere) says on stderr that it
// made an empty database there, and still does what it was asked; the next
// command on the same file says nothing of the kind.
func TestCLISaysWhenItMakesANewDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "scopegate.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, err := json.Marshal(map[string]any{"apps": map[string]any{"scopegate": map[string]any{
		"database": map[string]any{"driver": "sqlite", "dsn": path}, "issuer": apptest.Issuer,
		"master_key": apptest.MasterKey, "scopes": apptest.DemoScopes,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	e := &cliEnv{t: t, cfg: filepath.Join(t.TempDir(), "caddy.json")}
	if err := os.WriteFile(e.cfg, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	first := e.ok("client", "list")
	if !strings.Contains(first.err, "no database was at "+path) || strings.Contains(first.out, "no database") {
		t.Fatalf("the first command's stderr %q (stdout %q), want a note naming %s", first.err, first.out, path)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database was not made: %v", err)
	}
	if second := e.ok("client", "list"); strings.Contains(second.err, "no database was at") {
		t.Fatalf("the second command's stderr %q, want no note", second.err)
	}
}
