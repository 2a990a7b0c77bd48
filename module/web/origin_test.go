package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// Origin keeps the origin of an http(s) URL with a DNS name or IP host and
// refuses hosts holding what a CSP source list would read as syntax (';',
// ',', '*', quotes), empty labels, ports outside 1-65535 and non-http
// schemes.
func TestOrigin(t *testing.T) {
	for raw, want := range map[string]string{
		"https://app.example/cb":           "https://app.example",
		"https://app.example:8443/cb?x=1":  "https://app.example:8443",
		"http://127.0.0.1:9000/cb":         "http://127.0.0.1:9000",
		"http://[::1]:9000/cb":             "http://[::1]:9000",
		"https://my_host.internal/cb":      "https://my_host.internal",
		"https://a.example;script-src/cb":  "",
		"https://a.example'unsafe-inline'": "",
		"https://*/cb":                     "",
		"https://*.example/cb":             "",
		"https://a,b/cb":                   "",
		"https://a..example/cb":            "",
		"https://-a.example/cb":            "",
		"https://a.example:/cb":            "",
		"https://a.example:0/cb":           "",
		"https://a.example:65535/cb":       "https://a.example:65535",
		"https://a.example:65536/cb":       "",
		"http://[::1]:99999/cb":            "",
		"http://[::1]/cb":                  "http://[::1]",
		"ftp://a.example/cb":               "",
		"urn:ietf:wg:oauth:2.0:oob":        "",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			if want != "" {
				t.Errorf("%s: %v", raw, err)
			}
			continue
		}
		if got := Origin(u); got != want {
			t.Errorf("Origin(%s) = %q, want %q", raw, got, want)
		}
	}
}

// SameOrigin takes a form post whose Origin (or Referer) names the host it
// was sent to, and a request with neither (a non-browser client); it
// refuses another host, "null", and, on a request that came over HTTPS, an
// http:// origin of the same host (a page a network attacker can write).
// An https origin on a plain-http request passes (a proxy Caddy does not
// trust terminated TLS).
func TestSameOrigin(t *testing.T) {
	post := func(tls bool, header, value string) *http.Request {
		r := httptest.NewRequest("POST", "http://gw.example/admin/console/signin", nil)
		if tls {
			r = httptest.NewRequest("POST", "https://gw.example/admin/console/signin", nil)
		}
		if header != "" {
			r.Header.Set(header, value)
		}
		return r
	}
	for _, c := range []struct {
		name          string
		tls           bool
		header, value string
		want          bool
	}{
		{"same origin over http", false, "Origin", "http://gw.example", true},
		{"same origin over https", true, "Origin", "https://gw.example", true},
		{"http origin on an https request", true, "Origin", "http://gw.example", false},
		{"http Referer on an https request", true, "Referer", "http://gw.example/admin/console/signin", false},
		{"https origin behind an untrusted TLS proxy", false, "Origin", "https://gw.example", true},
		{"another host", true, "Origin", "https://evil.example", false},
		{"null origin", true, "Origin", "null", false},
		{"no Origin or Referer", true, "", "", true},
	} {
		if got := SameOrigin(post(c.tls, c.header, c.value)); got != c.want {
			t.Errorf("%s: SameOrigin = %v, want %v", c.name, got, c.want)
		}
	}
}
