package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
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
		"http.handlers.scopegate_strip", "caddy.logging.encoders.scopegate_lazy"} {
		if !strings.Contains(mods, m+"\n") {
			t.Errorf("list-modules lacks %s", m)
		}
	}
}

// cliRun runs the built caddy with args in the test's environment (the
// gateway's ports, database and master key), with extra environment
// variables, and returns stdout, stderr and the exit status.
func cliRun(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(caddyBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	status := 0
	if exit, ok := err.(*exec.ExitError); ok {
		status = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running caddy: %v", err)
	}
	return stdout.String(), stderr.String(), status
}

// cliJSON runs a command with --json that must succeed and decodes it.
func cliJSON(t *testing.T, env []string, args ...string) map[string]any {
	t.Helper()
	out, errOut, status := cliRun(t, env, append(args, "--json")...)
	var v map[string]any
	if status != 0 || json.Unmarshal([]byte(out), &v) != nil {
		t.Fatalf("%q: status %d\nstdout: %s\nstderr: %s", args, status, out, errOut)
	}
	return v
}

// jwtKID is the kid in a JWT's header.
func jwtKID(t *testing.T, tok string) string {
	t.Helper()
	head, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	var h struct{ KID string }
	if err != nil || json.Unmarshal(raw, &h) != nil {
		t.Fatalf("not a JWT: %q", tok)
	}
	return h.KID
}

// waitFor polls cond until it holds (the running gateway learns of a
// command-line change from the change feed), failing after a generous
// deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitForWithin(t, 15*time.Second, what, cond)
}

// waitForWithin is waitFor with its deadline given.
func waitForWithin(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting until %s", what)
}

// The operator's command line against a running gateway's database, on
// SQLite and PostgreSQL, with the built caddy binary: `client create`
// prints a secret that `token` (with --url, and by RFC 8414 discovery from
// --config, secret from $SCOPEGATE_CLIENT_SECRET) turns into a token the
// guard accepts; `client disable` ends it on the running gateway and
// `client restore` brings it back; `key rotate` makes the gateway sign
// with the new key; every change is audited via "cli". A tenant admin
// client made from the shell stays a tenant admin at the API. Errors exit
// 1 with the API's message, misuse (unknown subcommand, bad flag, missing
// argument) exits 2, and nothing is printed on stdout for either.
func TestCommandLineOperator(t *testing.T) {
	eachDriver(t, func(t *testing.T, g *gateway) {
		cfg := []string{"--config", g.CfgPath}
		created := cliJSON(t, nil, append([]string{"scopegate", "client", "create", "--name", "smoke", "--scope", "demo.read demo.write"}, cfg...)...)
		id, secretValue := created["client_id"].(string), created["client_secret"].(string)
		if id == "" || len(secretValue) != 43 {
			t.Fatalf("client create printed %v", created)
		}
		secretEnv := []string{"SCOPEGATE_CLIENT_SECRET=" + secretValue}

		out, errOut, status := cliRun(t, secretEnv, "scopegate", "token", "--client-id", id, "--url", g.URL+"/oauth2/token")
		tok := strings.TrimSpace(out)
		if status != 0 || strings.Count(tok, ".") != 2 || strings.Contains(out+errOut, secretValue) {
			t.Fatalf("token --url: %d %q %q", status, out, errOut)
		}
		if st, body, _ := call(t, "GET", g.URL+"/api/hello", tok, nil); st != http.StatusOK || body["client_id"] != id {
			t.Fatalf("the command line's token at the guard: %d %v", st, body)
		}
		discovered := cliJSON(t, secretEnv, append([]string{"scopegate", "token", "--client-id", id, "--scope", "demo.read"}, cfg...)...)
		if discovered["access_token"] == "" || discovered["scope"] != "demo.read" || discovered["token_type"] != "Bearer" {
			t.Fatalf("token by discovery: %v", discovered)
		}
		if out, errOut, status := cliRun(t, nil, "scopegate", "token", "--client-id", id, "--client-secret", "wrong", "--url", g.URL+"/oauth2/token"); status != 1 || out != "" || !strings.Contains(errOut, "invalid_client") {
			t.Fatalf("token with a wrong secret: %d %q %q", status, out, errOut)
		}

		if d := cliJSON(t, nil, append([]string{"scopegate", "client", "disable", id}, cfg...)...); d["status"] != "disabled" {
			t.Fatalf("client disable printed %v", d)
		}
		waitFor(t, "the gateway refuses the disabled client's token", func() bool {
			st, _, _ := call(t, "GET", g.URL+"/api/hello", tok, nil)
			return st == http.StatusUnauthorized
		})
		cliJSON(t, nil, append([]string{"scopegate", "client", "restore", id}, cfg...)...)
		waitFor(t, "the gateway accepts the restored client's token", func() bool {
			st, _, _ := call(t, "GET", g.URL+"/api/hello", tok, nil)
			return st == http.StatusOK
		})

		rotated := cliJSON(t, nil, append([]string{"scopegate", "key", "rotate", "--emergency"}, cfg...)...)
		waitFor(t, "the gateway signs with the rotated key", func() bool {
			return jwtKID(t, mustToken(t, g, id, secretValue, nil)) == rotated["kid"]
		})
		if st, _, _ := call(t, "GET", g.URL+"/api/hello", tok, nil); st != http.StatusOK {
			t.Fatalf("a token of the old key after rotation: %d", st)
		}

		// A tenant admin made from the shell has a tenant admin's power at
		// the API, no more: the command line's own power stays with it.
		cliJSON(t, nil, append([]string{"scopegate", "tenant", "create", "--id", "acme", "--name", "Acme"}, cfg...)...)
		ta := cliJSON(t, nil, append([]string{"scopegate", "client", "create", "--name", "acme-admin", "--tenant", "acme", "--scope", "scopegate.tenant_admin"}, cfg...)...)
		taTok := mustToken(t, g, ta["client_id"].(string), ta["client_secret"].(string), nil)
		if st, _, _ := call(t, "GET", g.URL+"/admin/clients?tenant_id=default", taTok, nil); st != http.StatusForbidden {
			t.Errorf("tenant admin listing the default tenant: %d", st)
		}
		if st, _, _ := call(t, "POST", g.URL+"/admin/keys/rotate", taTok, nil); st != http.StatusForbidden {
			t.Errorf("tenant admin rotating keys: %d", st)
		}
		if st, _, _ := call(t, "POST", g.URL+"/admin/clients/"+id+"/disable", taTok, nil); st != http.StatusNotFound {
			t.Errorf("tenant admin disabling a default-tenant client: %d", st)
		}

		rows, _, err := g.standaloneApp(t).Store().ListAudit(context.Background(), "", store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, r := range rows {
			if r.Via == "cli" && r.Actor == "cli" && r.RemoteAddr == "local" {
				seen[r.Action] = true
			}
		}
		for _, action := range []string{"client.create", "client.disable", "client.restore", "keys.rotate", "tenant.create"} {
			if !seen[action] {
				t.Errorf("no %s row via cli in the audit log: %+v", action, rows)
			}
		}

		for _, tc := range []struct {
			args   []string
			status int
			want   string
		}{
			{[]string{"scopegate", "client", "frobnicate"}, 2, `unknown command "frobnicate"`},
			{[]string{"scopegate", "nope"}, 2, `unknown command "nope"`},
			{append([]string{"scopegate", "client", "create", "--colour", "red"}, cfg...), 2, "unknown flag: --colour"},
			{append([]string{"scopegate", "client", "show"}, cfg...), 2, "usage: caddy scopegate client show <client-id>"},
			{append([]string{"scopegate", "client", "show", "sg_missing"}, cfg...), 1, "no such client"},
			{append([]string{"scopegate", "client", "create", "--name", "smoke", "--scope", "demo.read"}, cfg...), 1, `already has a client named "smoke"`},
		} {
			out, errOut, status := cliRun(t, nil, tc.args...)
			if status != tc.status || out != "" || !strings.Contains(errOut, tc.want) {
				t.Errorf("%q: status %d, stdout %q, stderr %q; want %d saying %q", tc.args, status, out, errOut, tc.status, tc.want)
			}
		}
	})
}
