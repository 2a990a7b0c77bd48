package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"
)

// goldenSeparator splits a .caddyfiletest file into the Caddyfile and the
// JSON it must adapt to, as in Caddy's own caddytest/integration.
const goldenSeparator = "\n----------\n"

// TestCaddyfileAdaptGolden adapts every testdata/caddyfile_adapt file and
// checks the JSON is exactly the expected one: each directive and option of
// the scopegate app, its endpoints and the admin handler lands in the field
// the module reads. SCOPEGATE_UPDATE_GOLDEN=1 rewrites the expected JSON
// from the adapter's output (review the diff before committing it).
func TestCaddyfileAdaptGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "caddyfile_adapt", "*.caddyfiletest"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files found")
	}
	update := os.Getenv("SCOPEGATE_UPDATE_GOLDEN") == "1"
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			caddyfile, expected, ok := strings.Cut(strings.ReplaceAll(string(data), "\r\n", "\n"), goldenSeparator)
			if !ok {
				t.Fatalf("%s has no %q separator", file, strings.TrimSpace(goldenSeparator))
			}
			if update {
				writeGolden(t, file, caddyfile)
				return
			}
			if !caddytest.CompareAdapt(t, file, caddyfile, "caddyfile", strings.TrimSpace(expected)) {
				t.Errorf("%s: the adapted JSON differs from the expected JSON (diff above)", file)
			}
		})
	}
}

// TestCaddyfileAdaptRefusals checks that the parsers refuse what they do not
// understand with an error naming it, instead of dropping it silently.
func TestCaddyfileAdaptRefusals(t *testing.T) {
	for _, tc := range []struct{ name, caddyfile, want string }{
		{"unknown app option", "{\n\tscopegate {\n\t\tissuers x\n\t}\n}\n:80\n", `unknown scopegate option "issuers"`},
		{"duplicate app option", "{\n\tscopegate {\n\t\tleeway 1s\n\t\tleeway 2s\n\t}\n}\n:80\n", `duplicate option "leeway"`},
		// Caddy kept the last block alone, dropping the first's database.
		{"scopegate block twice", "{\n\tscopegate {\n\t\tleeway 1s\n\t}\n\tscopegate {\n\t\tscope a.b\n\t}\n}\n:80\n", "given twice"},
		{"bad driver", "{\n\tscopegate {\n\t\tdatabase mysql x\n\t}\n}\n:80\n", `unknown database driver "mysql"`},
		{"postgres without dsn", "{\n\tscopegate {\n\t\tdatabase postgres\n\t}\n}\n:80\n", "needs a DSN"},
		{"negative duration", "{\n\tscopegate {\n\t\ttoken_lifetime -1s\n\t}\n}\n:80\n", "not a positive duration"},
		{"scope defined twice", "{\n\tscopegate {\n\t\tscope a.b\n\t\tscope a.b\n\t}\n}\n:80\n", "defined twice"},
		{"unknown scope option", "{\n\tscopegate {\n\t\tscope a.b {\n\t\t\tleg 3\n\t\t}\n\t}\n}\n:80\n", `unknown option "leg"`},
		{"unknown endpoint", ":80 {\n\tscopegate tokens\n}\n", `unknown scopegate endpoint "tokens"`},
		{"no endpoint", ":80 {\n\tscopegate\n}\n", "needs an endpoint"},
		{"unknown grant", ":80 {\n\tscopegate token {\n\t\tgrant_types password\n\t}\n}\n", `unknown grant type "password"`},
		{"unknown token option", ":80 {\n\tscopegate token {\n\t\taliases a b\n\t}\n}\n", `unknown token endpoint option "aliases"`},
		{"unknown discovery option", ":80 {\n\tscopegate discovery {\n\t\tissuer x\n\t}\n}\n", `unknown discovery option "issuer"`},
		{"health option", ":80 {\n\tscopegate health {\n\t\tcheck db\n\t}\n}\n", `unknown health option "check"`},
		{"unknown authorize option", ":80 {\n\tscopegate authorize {\n\t\tttl 1h\n\t}\n}\n", `unknown authorize option "ttl"`},
		{"unknown revoke option", ":80 {\n\tscopegate revoke {\n\t\tx y\n\t}\n}\n", `unknown revoke option "x" (known: realm, cors)`},
		{"introspect takes no arguments", ":80 {\n\tscopegate introspect x\n}\n", "takes no arguments"},
		{"unknown userinfo option", ":80 {\n\tscopegate userinfo {\n\t\tfields a b\n\t}\n}\n", `unknown userinfo option "fields"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(tc.caddyfile), map[string]any{"filename": "Caddyfile"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("adapting %q: got error %v, want one containing %q", tc.caddyfile, err, tc.want)
			}
		})
	}
}

func writeGolden(t *testing.T, file, caddyfile string) {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": file})
	if err != nil {
		t.Fatalf("adapting %s: %v", file, err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, out, "", "\t"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(caddyfile+goldenSeparator+pretty.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}
