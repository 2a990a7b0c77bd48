package guard

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// Golden Caddyfile → JSON files, in the style of Caddy's own
// caddytest/integration/caddyfile_adapt: each testdata/caddyfile_adapt/
// *.caddyfiletest holds a Caddyfile, a line of dashes and the JSON it must
// adapt to (compared as JSON values, so key order and indentation do not
// matter), without warnings. Together they cover every option of
// scopegate_guard and the position of scopegate_strip.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "caddyfile_adapt", "*.caddyfiletest"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			caddyfile, expected, ok := strings.Cut(string(raw), "\n----------\n")
			if !ok {
				t.Fatal("no ---------- line between the Caddyfile and the JSON")
			}
			got, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile+"\n"), map[string]any{"filename": f})
			if err != nil {
				t.Fatalf("adapting: %v", err)
			}
			for _, w := range warnings {
				t.Errorf("warning %s:%d: %s", w.File, w.Line, w.Message)
			}
			var gotV, wantV any
			if err := json.Unmarshal(got, &gotV); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(expected), &wantV); err != nil {
				t.Fatalf("the expected JSON: %v", err)
			}
			if !reflect.DeepEqual(gotV, wantV) {
				pretty, _ := json.MarshalIndent(gotV, "", "\t")
				t.Errorf("adapted JSON differs from the golden file; got\n%s", pretty)
			}
		})
	}
}
