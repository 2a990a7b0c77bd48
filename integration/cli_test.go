package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// caddyBinary builds integration/caddybin once per test run.
func caddyBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "scopegate-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "caddy")
		out, err := exec.Command("go", "build", "-o", binPath, "./caddybin").CombinedOutput()
		if err != nil {
			binErr = err
			t.Logf("%s", out)
		}
	})
	if binErr != nil {
		t.Fatalf("building caddy: %v", binErr)
	}
	return binPath
}

// `caddy scopegate bootstrap` prints the first admin's credentials as JSON
// once; a second run fails without printing any secret and without creating
// a second admin; --rotate prints a new secret for the same client, and so
// does --rotate --client-id naming it; --client-id alone is refused.
// `caddy list-modules` lists every Scopegate module.
func TestCommandLine(t *testing.T) {
	bin := caddyBinary(t)
	cfg, _ := filepath.Abs("../caddyfiles/quickstart.Caddyfile")
	env := append(os.Environ(), "XDG_DATA_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())

	run := func(args ...string) (string, string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}

	out, errOut, err := run("scopegate", "bootstrap", "--config", cfg)
	if err != nil {
		t.Fatalf("first bootstrap: %v\n%s", err, errOut)
	}
	var creds map[string]string
	if err := json.Unmarshal([]byte(out), &creds); err != nil || creds["client_id"] == "" || len(creds["client_secret"]) != 43 {
		t.Fatalf("bootstrap output %q: %v", out, err)
	}
	out2, errOut2, err := run("scopegate", "bootstrap", "--config", cfg)
	if err == nil {
		t.Fatal("second bootstrap succeeded")
	}
	if strings.Contains(out2+errOut2, creds["client_secret"]) || !strings.Contains(errOut2, "already exists") {
		t.Fatalf("second bootstrap said %q / %q", out2, errOut2)
	}
	out3, errOut3, err := run("scopegate", "bootstrap", "--config", cfg, "--rotate")
	var rotated map[string]string
	if err != nil || json.Unmarshal([]byte(out3), &rotated) != nil || rotated["client_id"] != creds["client_id"] || rotated["client_secret"] == creds["client_secret"] {
		t.Fatalf("rotate: %v %q %q", err, out3, errOut3)
	}
	out4, errOut4, err := run("scopegate", "bootstrap", "--config", cfg, "--rotate", "--client-id", creds["client_id"])
	var chosen map[string]string
	if err != nil || json.Unmarshal([]byte(out4), &chosen) != nil || chosen["client_id"] != creds["client_id"] || chosen["client_secret"] == rotated["client_secret"] {
		t.Fatalf("rotate --client-id: %v %q %q", err, out4, errOut4)
	}
	if out5, errOut5, err := run("scopegate", "bootstrap", "--config", cfg, "--client-id", creds["client_id"]); err == nil || out5 != "" || !strings.Contains(errOut5, "--rotate") {
		t.Fatalf("--client-id without --rotate: %v %q %q", err, out5, errOut5)
	}

	mods, _, err := run("list-modules")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"scopegate", "http.handlers.scopegate_token", "http.handlers.scopegate_discovery",
		"http.handlers.scopegate_guard", "http.handlers.scopegate_admin", "http.handlers.scopegate_authorize",
		"http.handlers.scopegate_introspect", "http.handlers.scopegate_revoke", "http.handlers.scopegate_userinfo",
		"http.handlers.scopegate_strip"} {
		if !strings.Contains(mods, m+"\n") {
			t.Errorf("list-modules lacks %s", m)
		}
	}
}
