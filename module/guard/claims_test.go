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
