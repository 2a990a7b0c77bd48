package issuer

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/token"
)

// nextRecorder is a next handler that notes it was called.
type nextRecorder struct{ called bool }

func (n *nextRecorder) ServeHTTP(w http.ResponseWriter, _ *http.Request) error {
	n.called = true
	w.WriteHeader(http.StatusTeapot)
	return nil
}

func getJSON(t *testing.T, d *Discovery, path string, into any) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	next := &nextRecorder{}
	if err := d.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil), next); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if next.called {
		t.Fatalf("GET %s went to the next handler", path)
	}
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %v", path, rec.Code, rec.Header())
	}
	if rec.Header().Get("Cache-Control") != "public, max-age=300" {
		t.Errorf("GET %s: Cache-Control %q", path, rec.Header().Get("Cache-Control"))
	}
	if err := json.Unmarshal(rec.Body.Bytes(), into); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, rec.Body)
	}
	return rec
}

// RFC 8414 metadata (at both well-known names, with or without a trailing
// slash) has the issuer, absolute token and JWKS endpoints built from it,
// client_credentials among the grant types, the catalogue's scopes and the
// optional endpoints only when configured (and mounted); absolute URLs are
// kept as given.
func TestDiscoveryMetadata(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		d := &Discovery{}
		d.setup(f.app)
		for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/"} {
			var m map[string]any
			getJSON(t, d, p, &m)
			if m["issuer"] != apptest.Issuer {
				t.Errorf("%s: issuer %v", p, m["issuer"])
			}
			if m["token_endpoint"] != apptest.Issuer+"/oauth2/token" || m["jwks_uri"] != apptest.Issuer+"/.well-known/jwks.json" {
				t.Errorf("%s: token_endpoint %v jwks_uri %v", p, m["token_endpoint"], m["jwks_uri"])
			}
			if !slices.Contains(toStrings(m["grant_types_supported"]), "client_credentials") {
				t.Errorf("%s: grant_types_supported %v", p, m["grant_types_supported"])
			}
			scopes := toStrings(m["scopes_supported"])
			for _, s := range apptest.DemoScopes {
				if !slices.Contains(scopes, s.Name) {
					t.Errorf("%s: scopes_supported %v lacks %s", p, scopes, s.Name)
				}
			}
			if !slices.Equal(toStrings(m["token_endpoint_auth_methods_supported"]), []string{"client_secret_basic", "client_secret_post"}) {
				t.Errorf("%s: auth methods %v", p, m["token_endpoint_auth_methods_supported"])
			}
			if !slices.Equal(toStrings(m["access_token_signing_alg_values_supported"]), []string{"EdDSA"}) {
				t.Errorf("%s: signing algs %v", p, m["access_token_signing_alg_values_supported"])
			}
			for _, k := range []string{"authorization_endpoint", "userinfo_endpoint", "revocation_endpoint", "introspection_endpoint",
				"authorization_response_iss_parameter_supported"} {
				if _, ok := m[k]; ok {
					t.Errorf("%s: unconfigured %s is published", p, k)
				}
			}
		}

		f.authorize(t)
		f.app.RegisterEndpoint(EndpointRevoke)
		f.app.RegisterEndpoint(EndpointIntrospect)
		custom := &Discovery{
			TokenEndpoint: "v1/oauth2/token", JWKSURI: "https://keys.example/jwks.json",
			AuthorizationEndpoint: "/authorize", UserinfoEndpoint: "/userinfo",
			RevocationEndpoint: "/revoke", IntrospectionEndpoint: "http://internal.example/introspect",
		}
		custom.setup(f.app)
		var m map[string]any
		getJSON(t, custom, "/.well-known/openid-configuration", &m)
		for k, want := range map[string]string{
			"token_endpoint":         apptest.Issuer + "/v1/oauth2/token",
			"jwks_uri":               "https://keys.example/jwks.json",
			"authorization_endpoint": apptest.Issuer + "/authorize",
			"userinfo_endpoint":      apptest.Issuer + "/userinfo",
			"revocation_endpoint":    apptest.Issuer + "/revoke",
			"introspection_endpoint": "http://internal.example/introspect",
		} {
			if m[k] != want {
				t.Errorf("%s = %v, want %s", k, m[k], want)
			}
		}
		// RFC 9207: its authorization responses name the issuer.
		if m["authorization_response_iss_parameter_supported"] != true {
			t.Errorf("authorization_response_iss_parameter_supported = %v, want true", m["authorization_response_iss_parameter_supported"])
		}
	})
}

// The JWKS lists the signing key as an Ed25519 OKP key whose kid is the one
// in issued tokens' headers, and that key verifies those tokens.
func TestDiscoveryJWKS(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		res, _ := f.issue(t, f.ep, c.ID, secret)
		raw := res.str("access_token")
		header, _ := jwtParts(t, raw)

		d := &Discovery{}
		d.setup(f.app)
		var set struct{ Keys []token.JWK }
		getJSON(t, d, "/.well-known/jwks.json", &set)
		if len(set.Keys) == 0 {
			t.Fatal("JWKS has no keys")
		}
		k := set.Keys[0]
		if k.KeyType != "OKP" || k.Curve != "Ed25519" || k.Algorithm != "EdDSA" || k.Use != "sig" {
			t.Errorf("first key %+v, want OKP Ed25519 EdDSA sig", k)
		}
		if k.KeyID != header["kid"] {
			t.Errorf("JWKS kid %q, token kid %v", k.KeyID, header["kid"])
		}
		pub, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(pub) != ed25519.PublicKeySize || token.Thumbprint(pub) != k.KeyID {
			t.Fatalf("x %q does not decode to the key the kid names (%v)", k.X, err)
		}
		if _, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return ed25519.PublicKey(pub), nil },
			jwt.WithValidMethods([]string{"EdDSA"})); err != nil {
			t.Errorf("the published key does not verify an issued token: %v", err)
		}
	})
}

// Paths that are neither metadata nor JWKS go to the next handler; writing
// methods on the documents are 405 with Allow and a JSON error, as every
// other answer on the issuer's paths (it was Caddy's empty 405: protocol
// red team); HEAD is answered.
func TestDiscoveryRouting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		d := &Discovery{}
		d.setup(f.app)
		for _, p := range []string{"/", "/.well-known/other", "/oauth2/token", "/jwks.json.bak"} {
			next := &nextRecorder{}
			rec := httptest.NewRecorder()
			if err := d.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil), next); err != nil || !next.called || rec.Code != http.StatusTeapot {
				t.Errorf("GET %s: err %v, next called %v", p, err, next.called)
			}
		}
		for _, p := range []string{"/.well-known/jwks.json", "/.well-known/oauth-authorization-server"} {
			for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
				rec := httptest.NewRecorder()
				next := &nextRecorder{}
				err := d.ServeHTTP(rec, httptest.NewRequest(m, p, nil), next)
				var body struct {
					ErrorDescription string `json:"error_description"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &body)
				if err != nil || rec.Code != http.StatusMethodNotAllowed || next.called ||
					rec.Header().Get("Content-Type") != "application/json" || !strings.Contains(body.ErrorDescription, "read-only") {
					t.Errorf("%s %s: err %v, %d %q %s, want a 405 JSON error", m, p, err, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
				}
				if rec.Header().Get("Allow") != "GET, HEAD" {
					t.Errorf("%s %s: Allow %q", m, p, rec.Header().Get("Allow"))
				}
			}
			rec := httptest.NewRecorder()
			if err := d.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, p, nil), &nextRecorder{}); err != nil || rec.Code != http.StatusOK {
				t.Errorf("HEAD %s: %v %d", p, err, rec.Code)
			}
		}
	})
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// While a rotated-in key is pre-published the JWKS lists it after the
// signing key, whose tokens are still issued, and lets clients cache the
// document for half of key_prepublish only (here 6m: 180 s), so a client
// that honours Cache-Control fetches the new key before it signs; the
// metadata keeps its own 300 s.
func TestDiscoveryJWKSPrepublished(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, func(a *app.App) { a.KeyPrepublish = caddy.Duration(6 * time.Minute) })
		signing := f.app.Keys().SigningKID()
		next, err := f.app.Keys().Rotate(context.Background(), token.Rotation{
			Prepublish: time.Duration(f.app.KeyPrepublish), Overlap: time.Duration(f.app.KeyOverlap),
		}, tester)
		if err != nil {
			t.Fatal(err)
		}
		d := &Discovery{}
		d.setup(f.app)
		get := func(path string) *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			if err := d.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil), &nextRecorder{}); err != nil || rec.Code != http.StatusOK {
				t.Fatalf("GET %s: %v %d", path, err, rec.Code)
			}
			return rec
		}
		rec := get("/.well-known/jwks.json")
		if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=180" {
			t.Errorf("JWKS Cache-Control %q, want public, max-age=180", cc)
		}
		var set struct{ Keys []token.JWK }
		if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil {
			t.Fatal(err)
		}
		if len(set.Keys) != 2 || set.Keys[0].KeyID != signing || set.Keys[1].KeyID != next.KID {
			t.Errorf("JWKS while %s is pending = %+v, want the signing key %s then it", next.KID, set.Keys, signing)
		}
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		res, _ := f.issue(t, f.ep, c.ID, secret)
		if header, _ := jwtParts(t, res.str("access_token")); header["kid"] != signing {
			t.Errorf("token issued while %s is pending is signed by %v, want %s", next.KID, header["kid"], signing)
		}
		if cc := get("/.well-known/oauth-authorization-server").Header().Get("Cache-Control"); cc != "public, max-age=300" {
			t.Errorf("metadata Cache-Control %q", cc)
		}
	})
}
