package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/scopegate/scopegate"
)

// TestIdentityFloorOfTheQuickstart checks that the load's copy of the
// shipped quickstart adapts, and that its /floor/ route proxies to the same
// upstream as /public/ while dropping the bearer token and setting the four
// identity headers the guard sends, in the proxy's own header operations.
func TestIdentityFloorOfTheQuickstart(t *testing.T) {
	src, err := filepath.Abs("../../caddyfiles/quickstart.Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	out, ok, err := withIdentityFloor(src, t.TempDir())
	if err != nil || !ok {
		t.Fatalf("withIdentityFloor: ok %v, %v", ok, err)
	}
	text, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(text, map[string]any{"filename": out})
	if err != nil {
		t.Fatalf("the floor's Caddyfile does not adapt: %v\n%s", err, text)
	}
	var parsed struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Routes []json.RawMessage `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &parsed); err != nil {
		t.Fatal(err)
	}
	var floor string
	for _, srv := range parsed.Apps.HTTP.Servers {
		for _, r := range srv.Routes {
			if s := string(r); strings.Contains(s, `"/floor/*"`) {
				floor = s
			}
		}
	}
	if floor == "" {
		t.Fatalf("no /floor/* route in the adapted config:\n%s", cfg)
	}
	part := floor
	for _, want := range []string{`"handler":"reverse_proxy"`, `"delete":["Authorization"]`,
		`"X-Scopegate-Client-Id":["sg_0123456789abcdefghijkl"]`, `"X-Scopegate-Tenant":["default"]`,
		`"X-Scopegate-Scopes":["demo.read"]`, `"X-Scopegate-Legs":["2"]`} {
		if !strings.Contains(part, want) {
			t.Errorf("the floor route lacks %s:\n%s", want, part)
		}
	}
	if strings.Contains(part, "scopegate_guard") || strings.Contains(part, `"handler":"scopegate_guard"`) {
		t.Errorf("the floor route has a guard:\n%s", part)
	}
}

// TestIdentityFloorNeedsAPublicRoute checks that a file without the
// quickstart's /public/ route is run as it is, without a floor.
func TestIdentityFloorNeedsAPublicRoute(t *testing.T) {
	src := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(src, []byte(":8080 {\n\trespond ok\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, ok, err := withIdentityFloor(src, t.TempDir())
	if err != nil || ok || out != src {
		t.Fatalf("got %q, %v, %v; want the file itself, false, nil", out, ok, err)
	}
}
