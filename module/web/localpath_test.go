package web

import (
	"strings"
	"testing"
)

// Whatever the raw request path, LocalPath gives an absolute path on this
// origin: one leading slash, no backslash, no control character, no "."
// or ".." segment; ordinary paths come back unchanged.
func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/oauth/authorize":                    "/oauth/authorize",
		"/oauth/authorize/":                   "/oauth/authorize/",
		"/admin/console/apps":                 "/admin/console/apps",
		"":                                    "/",
		"/":                                   "/",
		"//evil.example/../oauth/authorize":   "/oauth/authorize",
		"//evil.example/..%2Foauth/authorize": "/evil.example/..%2Foauth/authorize",
		`/\evil.example/..`:                   "/",
		`/\evil.example/`:                     "/evil.example/",
		`\\evil.example\oauth`:                "/evil.example/oauth",
		"/\t/evil.example":                    "/evil.example",
		"/\n\r//evil.example/x":               "/evil.example/x",
		"https://evil.example/x":              "/https:/evil.example/x",
		"javascript:alert(1)":                 "/javascript:alert(1)",
		"///evil.example":                     "/evil.example",
		"/a/./b/../../..//c":                  "/c",
	} {
		got := LocalPath(in)
		if got != want {
			t.Errorf("LocalPath(%q) = %q, want %q", in, got, want)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\t\r\n") {
			t.Errorf("LocalPath(%q) = %q is not a path on this origin", in, got)
		}
	}
}
