package issuer

import (
	"slices"
	"testing"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Discovery advertises exactly what the mounted endpoints serve: the grant
// types of the token endpoints, with authorization_code and refresh_token
// only when an authorize endpoint is mounted and named (codes come from
// nowhere else) and implicit with it; response types and PKCE only with
// it; the authorize, revocation and introspection endpoints only when named
// and mounted. Without an authorize endpoint nothing of the code or
// implicit flows is advertised, whatever discovery names.
func TestDiscoveryAdvertisesWhatIsMounted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		type want struct {
			grants, responses, pkce, methods []string
			endpoints                        []string // published optional endpoints
		}
		all := &Discovery{AuthorizationEndpoint: "/oauth/authorize", RevocationEndpoint: "/oauth/revoke", IntrospectionEndpoint: "/oauth/introspect"}
		basicPost := []string{"client_secret_basic", "client_secret_post"}
		for name, tc := range map[string]struct {
			tokenGrants []string // nil: no token endpoint; empty: all grants
			mounted     []string
			d           Discovery
			want        want
		}{
			"client_credentials only, nothing else mounted, everything named": {
				tokenGrants: []string{"client_credentials"}, d: *all,
				want: want{grants: []string{"client_credentials"}, responses: []string{}, methods: basicPost},
			},
			"every grant, no authorize endpoint (bits, nitro)": {
				tokenGrants: []string{}, mounted: []string{EndpointRevoke, EndpointIntrospect}, d: *all,
				want: want{grants: []string{"client_credentials"}, responses: []string{}, methods: basicPost,
					endpoints: []string{"revocation_endpoint", "introspection_endpoint"}},
			},
			"every grant, authorize mounted but not named": {
				tokenGrants: []string{}, mounted: []string{EndpointAuthorize}, d: Discovery{},
				want: want{grants: []string{"client_credentials"}, responses: []string{}, methods: basicPost},
			},
			"every grant, authorize mounted and named (imagen)": {
				tokenGrants: []string{}, mounted: []string{EndpointAuthorize, EndpointRevoke, EndpointIntrospect}, d: *all,
				want: want{grants: []string{"authorization_code", "client_credentials", "implicit", "refresh_token"},
					responses: []string{"code", "token"}, pkce: []string{"S256"}, methods: append(basicPost, "none"),
					endpoints: []string{"authorization_endpoint", "revocation_endpoint", "introspection_endpoint"}},
			},
			"client_credentials only, authorize mounted and named": {
				tokenGrants: []string{"client_credentials"}, mounted: []string{EndpointAuthorize}, d: *all,
				want: want{grants: []string{"client_credentials", "implicit"}, responses: []string{"token"}, methods: basicPost,
					endpoints: []string{"authorization_endpoint"}},
			},
			"no token endpoint mounted": {
				d: Discovery{}, want: want{grants: []string{}, responses: []string{}, methods: basicPost},
			},
		} {
			t.Run(name, func(t *testing.T) {
				a := apptest.Open(t, driver)
				if tc.tokenGrants != nil {
					if err := (&TokenEndpoint{GrantTypes: tc.tokenGrants}).setup(a, zap.NewNop()); err != nil {
						t.Fatal(err)
					}
				}
				for _, k := range tc.mounted {
					if k == EndpointAuthorize {
						if err := (&Authorize{}).setup(a, zap.NewNop()); err != nil {
							t.Fatal(err)
						}
						continue
					}
					a.RegisterEndpoint(k)
				}
				d := tc.d
				d.setup(a)
				var m map[string]any
				getJSON(t, &d, "/.well-known/oauth-authorization-server", &m)
				for key, want := range map[string][]string{
					"grant_types_supported": tc.want.grants, "response_types_supported": tc.want.responses,
					"token_endpoint_auth_methods_supported": tc.want.methods,
				} {
					if _, ok := m[key]; !ok {
						t.Errorf("%s is missing (RFC 8414 requires it)", key)
					}
					if got := toStrings(m[key]); !slices.Equal(got, want) {
						t.Errorf("%s = %v, want %v", key, got, want)
					}
				}
				if got, ok := m["code_challenge_methods_supported"]; ok != (tc.want.pkce != nil) || !slices.Equal(toStrings(got), tc.want.pkce) {
					t.Errorf("code_challenge_methods_supported = %v, want %v", got, tc.want.pkce)
				}
				for _, key := range []string{"authorization_endpoint", "revocation_endpoint", "introspection_endpoint"} {
					if _, ok := m[key]; ok != slices.Contains(tc.want.endpoints, key) {
						t.Errorf("%s published: %v, want %v", key, ok, !ok)
					}
				}
				// A published revocation or introspection endpoint says how
				// clients authenticate there (RFC 8414 §2): revocation as
				// the token endpoint (public clients included), introspection
				// with a secret only.
				if _, ok := m["revocation_endpoint"]; ok && !slices.Equal(toStrings(m["revocation_endpoint_auth_methods_supported"]), tc.want.methods) {
					t.Errorf("revocation_endpoint_auth_methods_supported = %v, want %v", m["revocation_endpoint_auth_methods_supported"], tc.want.methods)
				}
				if _, ok := m["introspection_endpoint"]; ok && !slices.Equal(toStrings(m["introspection_endpoint_auth_methods_supported"]), []string{"client_secret_basic", "client_secret_post"}) {
					t.Errorf("introspection_endpoint_auth_methods_supported = %v", m["introspection_endpoint_auth_methods_supported"])
				}
				if _, ok := m["revocation_endpoint"]; !ok && m["revocation_endpoint_auth_methods_supported"] != nil {
					t.Error("revocation auth methods published without the endpoint")
				}
			})
		}
	})
}
