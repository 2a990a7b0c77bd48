package integration

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Every shipped Caddyfile writes its default log through scopegate_lazy
// (module/lazylog), which spares reverse_proxy's per-request encoding of a
// debug line that is never written.
func TestShippedFilesUseTheLazyLogEncoder(t *testing.T) {
	files, err := filepath.Glob("../caddyfiles/*.Caddyfile")
	if err != nil || len(files) == 0 {
		t.Fatalf("no shipped Caddyfiles: %v", err)
	}
	for _, f := range files {
		var cfg struct {
			Logging struct {
				Logs map[string]struct {
					Encoder struct {
						Format string `json:"format"`
					} `json:"encoder"`
				} `json:"logs"`
			} `json:"logging"`
		}
		if err := json.Unmarshal(adapt(t, f), &cfg); err != nil {
			t.Fatal(err)
		}
		if got := cfg.Logging.Logs["default"].Encoder.Format; got != "scopegate_lazy" {
			t.Errorf("%s: the default log's format is %q, want scopegate_lazy", filepath.Base(f), got)
		}
	}
}

// The quickstart, run by the built caddy with its log on a pipe, writes
// whole JSON lines through the lazy encoder: the guard's refusal with its
// fields, and Caddy's own error line for a proxied request whose upstream is
// down, with the request it carries as context (the fields a logger was
// built With, which the encoder writes only now). Neither line holds the
// bearer token the caller sent.
func TestQuickstartLogsThroughTheLazyEncoder(t *testing.T) {
	bin := caddyBinary(t)
	cfg, _ := filepath.Abs("../caddyfiles/quickstart.Caddyfile")
	port, dead := freePort(t), freePort(t) // nothing listens on dead
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir(),
		"SCOPEGATE_PORT="+strconv.Itoa(port), "SCOPEGATE_DEMO_PORT="+strconv.Itoa(freePort(t)),
		"SCOPEGATE_UPSTREAM=127.0.0.1:"+strconv.Itoa(dead), "SCOPEGATE_CADDY_ADMIN=off")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); <-done })
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	waitReadyOrExit(t, url+"/.well-known/jwks.json", done)

	const secret = "lazy-log-secret-token"
	for _, path := range []string{"/api/x", "/public/x"} {
		req, _ := http.NewRequest(http.MethodGet, url+path, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[string]int{"/api/x": 401, "/public/x": 502}[path]; resp.StatusCode != want {
			t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}

	var refused, proxyErr map[string]any
	for refused == nil || proxyErr == nil {
		line, ok := <-lines
		if !ok {
			t.Fatalf("the log ended before both lines were written (refusal %v, proxy error %v)", refused, proxyErr)
		}
		if strings.Contains(line, secret) {
			t.Errorf("a log line holds the caller's token: %s", line)
		}
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		switch {
		case entry["msg"] == "token refused":
			refused = entry
		case entry["logger"] == "http.log.error" && entry["status"] == float64(502):
			proxyErr = entry
		}
	}
	if refused["path"] != "/api/x" || refused["status"] != float64(401) || refused["reason"] == "" {
		t.Errorf("the refusal line lacks its fields: %v", refused)
	}
	request, _ := proxyErr["request"].(map[string]any)
	headers, _ := request["headers"].(map[string]any)
	if request["uri"] != "/public/x" || request["method"] != "GET" || headers == nil {
		t.Fatalf("the error line lacks the request it was built With: %v", proxyErr)
	}
	if auth, _ := headers["Authorization"].([]any); len(auth) != 1 || auth[0] != "REDACTED" {
		t.Errorf("the logged Authorization header is %v, want [REDACTED]", headers["Authorization"])
	}
}
