package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every Caddyfile shipped in caddyfiles/ adapts without error or warning
// and configures the scopegate app, so the examples cannot rot.
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
			if _, ok := cfg.Apps["scopegate"]; !ok && strings.Contains(string(body), "scopegate {") {
				t.Errorf("%s has a scopegate option but no scopegate app in its JSON", f)
			}
			if !strings.Contains(string(cfgJSON), "scopegate_") {
				t.Errorf("%s uses no scopegate handler", f)
			}
		})
	}
}
