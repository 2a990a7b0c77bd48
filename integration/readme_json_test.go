package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// The README's complete JSON config, loaded as written (only its ports
// changed) into a real Caddy: the first admin is bootstrapped from that very
// file, a client made through its admin sub-route gets a token at its token
// endpoint, the guarded route answers 200 from its demo upstream with the
// client's identity, a forged identity header never arrives, a call
// without a token is 401, a write with a read-only token is 403 (the
// example fails closed, as the shipped files do) and any other path is 404.
func TestREADMEJSONConfig(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)### A complete JSON config\n.*?```json\n(.*?)```\n").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no JSON config block under \"A complete JSON config\"")
	}
	port, demo, admin := freePort(t), freePort(t), freePort(t)
	cfgText := strings.NewReplacer(
		"localhost:2019", "localhost:"+strconv.Itoa(admin),
		"localhost:8080", "localhost:"+strconv.Itoa(port),
		`":8080"`, `"127.0.0.1:`+strconv.Itoa(port)+`"`,
		"127.0.0.1:8081", "127.0.0.1:"+strconv.Itoa(demo),
	).Replace(string(m[1]))
	if !json.Valid([]byte(cfgText)) {
		t.Fatalf("the README's JSON config is not valid JSON:\n%s", cfgText)
	}
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load(withoutAutosave(t, []byte(cfgText)), true); err != nil {
		t.Fatalf("loading the README's JSON config: %v", err)
	}
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Errorf("stopping Caddy: %v", err)
		}
	})
	g := &gateway{URL: fmt.Sprintf("http://127.0.0.1:%d", port), CfgPath: path}
	waitReady(t, g.URL+"/.well-known/jwks.json")

	adminTok := bootstrapAdmin(t, g, "/oauth2/token")
	id, secret := createClient(t, g, adminTok, map[string]any{"name": "readme-json", "scopes": []string{"demo.read"}})
	tok := mustToken(t, g, id, secret, nil)
	status, body, _ := call(t, "GET", g.URL+"/api/hello", tok, nil, "X-Scopegate-Client-Id", "forged")
	if status != http.StatusOK || body["client_id"] != id {
		t.Fatalf("guarded call: %d %v (want 200 with client_id %s)", status, body, id)
	}
	if status, _, h := call(t, "GET", g.URL+"/api/hello", "", nil); status != http.StatusUnauthorized || challenge(h) != "invalid_token" {
		t.Fatalf("call without a token: %d %q", status, h.Get("WWW-Authenticate"))
	}
	if status, _, h := call(t, "DELETE", g.URL+"/api/records/1", tok, nil); status != http.StatusForbidden || challenge(h) != "insufficient_scope" {
		t.Fatalf("a write with a demo.read token: %d %q (want 403 insufficient_scope)", status, h.Get("WWW-Authenticate"))
	}
	if status, _, _ := call(t, "GET", g.URL+"/whatever", "", nil); status != http.StatusNotFound {
		t.Fatalf("a path no route serves: %d (want 404)", status)
	}
}
