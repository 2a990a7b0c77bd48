package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every Caddyfile shipped in caddyfiles/ adapts without error or warning
// and configures the scopegate app, so the examples cannot rot; and every
// server of it bounds how long a request may take to send its headers and
// body, so a client trickling bytes cannot hold connections for good
// (Caddy's defaults leave the body unbounded).
func TestEveryCaddyfileAdapts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "caddyfiles", "*.Caddyfile"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Caddyfiles found: %v", err)
	}
	t.Setenv("SCOPEGATE_CADDY_ADMIN", "off")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			body, _ := os.ReadFile(f)
			cfgJSON := adapt(t, f)
			var cfg struct {
				Apps map[string]json.RawMessage `json:"apps"`
			}
			if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
				t.Fatal(err)
			}
			var httpApp struct {
				Servers map[string]struct {
					ReadTimeout       int64 `json:"read_timeout"`
					ReadHeaderTimeout int64 `json:"read_header_timeout"`
				} `json:"servers"`
			}
			if err := json.Unmarshal(cfg.Apps["http"], &httpApp); err != nil || len(httpApp.Servers) == 0 {
				t.Fatalf("%s: no http servers (%v)", f, err)
			}
			for name, srv := range httpApp.Servers {
				if srv.ReadTimeout <= 0 || srv.ReadHeaderTimeout <= 0 {
					t.Errorf("%s: server %s has read_timeout %d, read_header_timeout %d: want both set", f, name, srv.ReadTimeout, srv.ReadHeaderTimeout)
				}
			}
			if _, ok := cfg.Apps["scopegate"]; !ok && strings.Contains(string(body), "scopegate {") {
				t.Errorf("%s has a scopegate option but no scopegate app in its JSON", f)
			}
			if !strings.Contains(string(cfgJSON), "scopegate_") {
				t.Errorf("%s uses no scopegate handler", f)
			}
		})
	}
}
