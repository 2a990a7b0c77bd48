package integration

import (
	"fmt"
	"slices"
	"testing"

	"github.com/scopegate/scopegate/module/store"
)

// Each shipped gateway's RFC 8414 metadata advertises exactly what its
// Caddyfile mounts: Bits and Nitro mount no authorize endpoint, so they
// advertise client_credentials alone, no response type, no PKCE and no
// authorization endpoint (their token endpoints accept every grant, but no
// code can ever be issued); Imagen mounts one and advertises the code and
// implicit flows with PKCE. Revocation and introspection are published by
// all three, which mount them.
func TestDiscoveryMatchesCaddyfile(t *testing.T) {
	for file, want := range map[string]struct {
		grants, responses []string
		pkce, authorize   bool
	}{
		"bits.Caddyfile":   {grants: []string{"client_credentials"}, responses: []string{}},
		"nitro.Caddyfile":  {grants: []string{"client_credentials"}, responses: []string{}},
		"imagen.Caddyfile": {grants: []string{"authorization_code", "client_credentials", "implicit", "refresh_token"}, responses: []string{"code", "token"}, pkce: true, authorize: true},
	} {
		t.Run(file, func(t *testing.T) {
			g := startGateway(t, file, store.SQLite)
			status, meta, _ := call(t, "GET", g.URL+"/.well-known/oauth-authorization-server", "", nil)
			if status != 200 {
				t.Fatalf("metadata: %d %v", status, meta)
			}
			list := func(key string) []string {
				raw, ok := meta[key].([]any)
				if !ok && meta[key] != nil {
					t.Fatalf("%s is %T", key, meta[key])
				}
				out := []string{}
				for _, v := range raw {
					out = append(out, fmt.Sprint(v))
				}
				return out
			}
			if got := list("grant_types_supported"); !slices.Equal(got, want.grants) {
				t.Errorf("grant_types_supported %v, want %v", got, want.grants)
			}
			if _, ok := meta["response_types_supported"]; !ok {
				t.Error("response_types_supported is missing (RFC 8414 requires it)")
			}
			if got := list("response_types_supported"); !slices.Equal(got, want.responses) {
				t.Errorf("response_types_supported %v, want %v", got, want.responses)
			}
			if _, ok := meta["code_challenge_methods_supported"]; ok != want.pkce {
				t.Errorf("code_challenge_methods_supported %v, want published: %v", meta["code_challenge_methods_supported"], want.pkce)
			}
			if _, ok := meta["authorization_endpoint"]; ok != want.authorize {
				t.Errorf("authorization_endpoint %v, want published: %v", meta["authorization_endpoint"], want.authorize)
			}
			for _, key := range []string{"revocation_endpoint", "introspection_endpoint"} {
				if meta[key] == nil {
					t.Errorf("%s is missing: %v", key, meta)
				}
			}
		})
	}
}
