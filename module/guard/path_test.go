package guard

import "testing"

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
	} {
		if got := unclearPath(p); got != want {
			t.Errorf("unclearPath(%q) = %v, want %v", p, got, want)
		}
	}
}
