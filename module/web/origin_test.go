package web

import (
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
