package guard

import (
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// A prepared match_claims value gives exactly what ReplaceKnown gives, for
// a single known placeholder (the shortcut), an unknown one (kept as
// written), an empty one, templates and escaped braces (the general path).
func TestClaimMatchWantIsReplaceKnown(t *testing.T) {
	repl := caddy.NewReplacer()
	r := httptest.NewRequest("GET", "/apps/app-1/items?q=1", nil)
	caddyhttp.PrepareRequest(r, repl, httptest.NewRecorder(), nil)
	repl.Set("empty", "")
	for _, value := range []string{
		"{http.request.uri.path.1}",
		"{http.request.uri.path.9}",
		"{no.such.placeholder}",
		"{empty}",
		"app-{http.request.uri.path.1}",
		"{http.request.uri.path.0}/{http.request.uri.path.1}",
		`\{http.request.uri.path.1}`,
		`{http.request.uri.path.1\}`,
		"{}",
		"plain",
		"",
	} {
		cms := newClaimMatches(map[string]string{"c": value})
		if got, want := cms[0].want(repl), repl.ReplaceKnown(value, ""); got != want {
			t.Errorf("want(%q) = %q, ReplaceKnown = %q", value, got, want)
		}
		if got := cms[0].want(nil); got != value {
			t.Errorf("want(%q) without a replacer = %q", value, got)
		}
	}
	if cms := newClaimMatches(map[string]string{"b": "2", "a": "1", "c": "3"}); cms[0].name != "a" || cms[1].name != "b" || cms[2].name != "c" {
		t.Errorf("matches not in name order: %+v", cms)
	}
}

// ambiguousPath finds "." and ".." segments however an upstream might cut
// the path: at '/' and at '\' (decoded from %5C or sent raw), and with the
// dots or separators still percent-encoded after Go's decoding (a
// double-encoded path, for an upstream that decodes again). Names that only
// contain dots among other characters are not dot segments. An empty
// segment (two separators in a row, anywhere but at the very end) shifts the
// numbered path placeholders away from the segments routes match, so it
// counts too; a trailing slash does not.
func TestAmbiguousPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/apps/app-1/items":      false,
		"/apps/app-1/../app-2":   true,
		"/apps/app-1/./items":    true,
		"/apps/app-1/..":         true,
		"/apps/app-1/.":          true,
		`/apps/app-1/..\app-2`:   true,
		`/apps/app-1\..\app-2`:   true,
		`/apps/app-1/.\app-2`:    true,
		`\..\app-2`:              true,
		"/apps/app-1/%2e%2e/x":   true,
		"/apps/app-1/%2E%2e%5Cx": true,
		"/apps/app-1/.%2e%2fx":   true,
		"/apps/app-1/%2e":        true,
		"/apps/app-1/%5c..":      true,
		"/apps/app-1/...":        false,
		"/apps/app-1/..x":        false,
		"/apps/.well-known/x":    false,
		"/apps/v1.2/x":           false,
		"/apps/%2e%2e%2e":        false,
		"/apps/a%2e":             false,
		"/apps/%2":               false,
		"/apps/%":                false,
		"":                       false,
		"/":                      false,
		"/apps/app-1/":           false,
		"//apps/app-2/items":     true,
		"/apps//app-2/items":     true,
		"/apps/app-1//":          true,
		`/apps\\app-2`:           true,
		"/apps/%2fapp-2":         true,
		"/apps%2f%2fapp-2":       true,
		`\apps`:                  false,
		`\\apps`:                 true,
	} {
		if got := ambiguousPath(p); got != want {
			t.Errorf("ambiguousPath(%q) = %v, want %v", p, got, want)
		}
	}
}
