package guard

import (
	"net/url"
	"testing"
)

// unclearPath refuses what an upstream may read as another path than the
// route matched (dot segments and segments of dots and spaces, ';',
// backslashes, control characters, invalid UTF-8, escapes left after
// decoding), and keeps ordinary paths, dots inside names, spaces, UTF-8
// names, a lone '%' and "//".
func TestUnclearPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/api/users/42":                   false,
		"/":                               false,
		"":                                false,
		"/v1/files/report.v2.pdf":         false,
		"/a/.../b":                        true,
		"/a/.. /b":                        true,
		"/v5/files/..;/users/1":           true,
		"/v1/applications/x/sessions;x":   true,
		"/a/..\x00/b":                     true,
		"/a/b\tc":                         true,
		"/a/\xc0\xae\xc0\xae/b":           true,
		"/files/caf\u00e9":                false,
		"/a/b c":                          false,
		"/a/.hidden":                      false,
		"/discount/100%":                  false,
		"/a/%zz":                          false,
		"/api//users":                     false,
		"/api/users/42/../../records/1":   true,
		"/api/./users":                    true,
		"/api/users/..":                   true,
		"..":                              true,
		"/v5/files/..\\users\\x":          true,
		"/v1/applications/app2\\sessions": true,
		"/v1/applications/session%73":     true,
		"/a/%2e%2e/b":                     true,
		"/a/%5Cb":                         true,
		"/a/b%2":                          false,
		// NFKC: fullwidth dots and solidus, U+2024/U+2025, small full
		// stop, fullwidth semicolon and backslash; other UTF-8 stays clear.
		"/public/\uff0e\uff0e/api/x":  true,
		"/public/\u2025/api/x":        true,
		"/public/\u2024\u2024/api/x":  true,
		"/public/..\uff0f..\uff0fapi": true,
		"/public/a\uff0fb":            true,
		"/public/\ufe52/x":            true,
		"/public/x\uff1bjsessionid=1": true,
		"/public/x\uff3cy":            true,
		"/files/\uff41\uff42\uff43":   false,
		"/files/na\u00efve/\u2460":    false,
		// Separators NFKC keeps but "best fit" code pages fold: with
		// dots they make a dot segment; alone they are clear.
		"/public/..\u2215api/x":     true,
		"/public/..\u2044api/x":     true,
		"/public/..\u00a5api/x":     true,
		"/public/..\u20a9api":       true,
		"/public/\u2025\u2215api/x": true,
		"/prices/\u00a5100":         false,
		"/a/b\u2215c":               false,
		// IIS %u escapes, '+' read as a space.
		"/public/%u002e%u002e/api/x": true,
		"/public/%U002E./api":        true,
		"/public/..+/api/x":          true,
		"/public/a+b/c.d":            false,
		"/discount/100%u":            false,
	} {
		if got := unclearPath(p); got != want {
			t.Errorf("unclearPath(%q) = %v, want %v", p, got, want)
		}
	}
}

// encodedSlash finds "%2F" (either case) in the path as sent, and nothing
// else: "%252F" (an escaped percent, then "2F") and a decoded slash are not
// it; the decoded path alone never is.
func TestEncodedSlash(t *testing.T) {
	for raw, want := range map[string]bool{
		"/v1/applications/a%2Fb/sessions": true,
		"/v1/applications/a%2fb":          true,
		"/v1/applications/a/b":            false,
		"/v1/applications/a%252Fb":        false,
		"/v1/applications/caf%C3%A9":      false,
		"/x%252":                          false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := encodedSlash(u); got != want {
			t.Errorf("encodedSlash(%q) = %v, want %v", raw, got, want)
		}
	}
}
