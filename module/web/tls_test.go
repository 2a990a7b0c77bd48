package web

import (
	"context"
	"crypto/tls"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/module/store"
)

// Session cookies are Secure over TLS, and behind a TLS-terminating proxy
// when Caddy marked the peer as a trusted proxy and it says
// X-Forwarded-Proto: https (first entry of a list); the header from an
// untrusted peer, or a trusted proxy saying http, leaves them not Secure.
func TestSecureBehindTrustedProxy(t *testing.T) {
	s := sessions(t, store.SQLite) // the database plays no part here
	for _, tc := range []struct {
		name    string
		tls     bool
		trusted any // the trusted_proxy var; nil: not set (no Caddy server)
		proto   string
		secure  bool
	}{
		{"direct TLS", true, nil, "", true},
		{"plain HTTP", false, nil, "", false},
		{"header outside Caddy", false, nil, "https", false},
		{"untrusted peer", false, false, "https", false},
		{"trusted proxy, https", false, true, "https", true},
		{"trusted proxy, HTTPS list", false, true, "HTTPS, http", true},
		{"trusted proxy, http", false, true, "http", false},
		{"trusted proxy, no header", false, true, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://gw.test/", nil)
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tc.trusted != nil {
				vars := map[string]any{caddyhttp.TrustedProxyVarKey: tc.trusted}
				r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, vars))
			}
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			rec := httptest.NewRecorder()
			if _, err := s.Start(rec, r, "u1", "t1", time.Now()); err != nil {
				t.Fatal(err)
			}
			if c := rec.Result().Cookies()[0]; c.Secure != tc.secure {
				t.Fatalf("Secure = %v, want %v", c.Secure, tc.secure)
			}
			end := httptest.NewRecorder()
			if err := s.End(end, r); err != nil {
				t.Fatal(err)
			}
			if c := end.Result().Cookies()[0]; c.Secure != tc.secure {
				t.Fatalf("sign-out cookie Secure = %v, want %v", c.Secure, tc.secure)
			}
		})
	}
}
