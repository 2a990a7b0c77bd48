package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A form post whose body names a content coding (other than identity) is
// refused with ErrContentCoded before its body is read, so a "gzip" body is
// never taken for form fields; an identity or absent coding parses as before.
func TestParseFormRefusesContentCodedBodies(t *testing.T) {
	for _, tc := range []struct {
		coding string
		want   error
	}{
		{"", nil},
		{"identity", nil},
		{"gzip", ErrContentCoded},
		{"identity, deflate", ErrContentCoded},
	} {
		r := httptest.NewRequest(http.MethodPost, "/form", strings.NewReader("csrf=abc&username=u"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tc.coding != "" {
			r.Header.Set("Content-Encoding", tc.coding)
		}
		err := ParseForm(httptest.NewRecorder(), r, 1<<10)
		if !errors.Is(err, tc.want) {
			t.Errorf("Content-Encoding %q: err %v, want %v", tc.coding, err, tc.want)
			continue
		}
		if tc.want == nil && r.PostFormValue("username") != "u" {
			t.Errorf("Content-Encoding %q: username %q, want u", tc.coding, r.PostFormValue("username"))
		}
		if tc.want != nil && r.PostForm != nil {
			t.Errorf("Content-Encoding %q: the body was parsed: %v", tc.coding, r.PostForm)
		}
	}
}
