package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The README's curl walkthrough, run as written by bash against the built
// caddy on the untouched quickstart Caddyfile, its own demo upstream
// included, addressed as localhost the way a newcomer would: bootstrap, admin
// token, client created through /admin/, 200 with the identity the demo
// upstream echoes, 403 for a write, 401 without a token and with garbage, 401
// once the client is disabled, and the unguarded /public/ route.
func TestREADMEWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("the README walkthrough needs curl: %v", err)
	}
	script := readmeWalkthrough(t)
	bin := caddyBinary(t)

	// A work dir that looks like the checkout after ./xcaddy.sh: ./caddy and
	// caddyfiles/.
	work := t.TempDir()
	caddyfiles, _ := filepath.Abs("../caddyfiles")
	for name, target := range map[string]string{"caddy": bin, "caddyfiles": caddyfiles} {
		if err := os.Symlink(target, filepath.Join(work, name)); err != nil {
			t.Fatal(err)
		}
	}
	port, demo, admin := freePort(t), freePort(t), freePort(t)
	env := append(os.Environ(),
		"XDG_DATA_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir(),
		"SCOPEGATE_PORT="+strconv.Itoa(port), "SCOPEGATE_DEMO_PORT="+strconv.Itoa(demo),
		"SCOPEGATE_UPSTREAM=127.0.0.1:"+strconv.Itoa(demo),
		"SCOPEGATE_CADDY_ADMIN=localhost:"+strconv.Itoa(admin))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := exec.CommandContext(ctx, "./caddy", "run", "--config", "caddyfiles/quickstart.Caddyfile")
	run.Dir, run.Env = work, env
	var caddyLog strings.Builder // written by exec's copying goroutine until Wait returns
	run.Stdout, run.Stderr = &caddyLog, &caddyLog
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() string {
		if !stopped {
			cancel()
			_ = run.Wait()
			stopped = true
		}
		return caddyLog.String()
	}
	defer func() {
		if log := stop(); t.Failed() {
			t.Logf("caddy's log:\n%s", log)
		}
	}()
	waitReady(t, "http://localhost:"+strconv.Itoa(port)+"/.well-known/jwks.json")

	sh := exec.Command("bash", "-euo", "pipefail", "-c",
		strings.ReplaceAll(script, "localhost:8080", "localhost:"+strconv.Itoa(port)))
	sh.Dir, sh.Env = work, env
	outBytes, err := sh.CombinedOutput()
	out := string(outBytes)
	if err != nil {
		t.Fatalf("the walkthrough failed: %v\n%s", err, out)
	}

	// Each curl -i answer, in order.
	statuses := regexp.MustCompile(`(?m)^HTTP/1\.1 (\d{3})`).FindAllStringSubmatch(out, -1)
	var got []string
	for _, m := range statuses {
		got = append(got, m[1])
	}
	want := []string{"200", "403", "401", "401", "401", "200"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("statuses %v, want %v\n%s", got, want, out)
	}
	for _, part := range []string{
		`"client_id": "sg_`, `"client_secret": "`, // bootstrap's JSON
		`"name":"demo-app"`,
		`{"upstream": "demo", "method": "GET", "path": "/api/hello", "client_id": "sg_`, // the echo
		`"tenant": "default", "scopes": "demo.read", "legs": "2"}`,
		`error="insufficient_scope"`, `scope="demo.write"`,
		`error="invalid_token", error_description="no bearer token: send Authorization: Bearer <token>"`,
		`error="invalid_token", error_description="the token is malformed"`,
		`error_description="the client is disabled"`,
		`"status":"disabled"`,
		`{"upstream": "demo", "method": "GET", "path": "/public/hello"`,
	} {
		if !strings.Contains(out, part) {
			t.Errorf("the walkthrough's output lacks %q\n%s", part, out)
		}
	}
	// The echoed client is the one created in step 3, not the admin.
	created := regexp.MustCompile(`"client_id":"(sg_[^"]+)","name":"demo-app"`).FindStringSubmatch(out)
	if created == nil || !strings.Contains(out, `"path": "/api/hello", "client_id": "`+created[1]+`"`) {
		t.Errorf("the upstream did not see the created client\n%s", out)
	}
	// Nothing the gateway logged carries a secret or a token.
	caddyOut := stop()
	for _, secret := range regexp.MustCompile(`"client_secret": ?"([^"*]+)"`).FindAllStringSubmatch(out, -1) {
		if strings.Contains(caddyOut, secret[1]) {
			t.Errorf("caddy logged a client secret")
		}
	}
	// A JWT's header and claims both start with eyJ ({"); three letters
	// alone turn up in random client ids about once in 7000 runs.
	if jwt := regexp.MustCompile(`eyJ[\w-]+\.eyJ[\w-]+\.`).FindString(caddyOut); jwt != "" {
		t.Errorf("caddy logged something that looks like a JWT: %.40s…", jwt)
	}
}

// readmeWalkthrough returns the shell block between the walkthrough markers
// of README.md.
func readmeWalkthrough(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- walkthrough:begin -->\n```sh\n(.*?)```\n<!-- walkthrough:end -->").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no walkthrough block")
	}
	return string(m[1])
}
