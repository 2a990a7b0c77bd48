package issuer

import (
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/module/cors"
)

// The `scopegate token|discovery|revoke|introspect` directive: every option of the endpoints
// (cors of the token and revocation endpoints too)
// lands in the right field, and every malformed block is an error that
// says what is wrong (no endpoint, unknown endpoint, unknown or duplicate
// option, wrong argument counts, bad aliases, unknown grant type, extra
// arguments).
func TestParseScopegate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		want  caddyhttp.MiddlewareHandler
		err   string
	}{
		{"token bare", `scopegate token`, &TokenEndpoint{}, ""},
		{"token empty block", "scopegate token {\n}", &TokenEndpoint{}, ""},
		{"token every option", `scopegate token {
			alias       type token_type
			alias       accessToken access_token
			token_type  bearer
			grant_types client_credentials
			realm       "Bits API"
			user_tokens every_client
		}`, &TokenEndpoint{
			ResponseAliases: map[string]string{"type": "token_type", "accessToken": "access_token"},
			TokenType:       "bearer",
			GrantTypes:      []string{"client_credentials"},
			Realm:           "Bits API",
			UserTokens:      "every_client",
		}, ""},
		{"token cors", "scopegate token {\n cors https://app.example.com {\n  max_age 0s\n }\n}", &TokenEndpoint{
			CORS: &cors.Config{Origins: []string{"https://app.example.com"}, MaxAge: new(caddy.Duration)}}, ""},
		{"revoke bare", `scopegate revoke`, &Revocation{}, ""},
		{"revoke cors", "scopegate revoke {\n realm r\n cors https://app.example.com http://localhost:3000\n}", &Revocation{Realm: "r",
			CORS: &cors.Config{Origins: []string{"https://app.example.com", "http://localhost:3000"}}}, ""},
		{"revoke realm", "scopegate revoke {\n realm \"Bits API\"\n}", &Revocation{Realm: "Bits API"}, ""},
		{"introspect bare", `scopegate introspect`, &Introspection{}, ""},
		{"introspect realm", "scopegate introspect {\n realm bits\n}", &Introspection{Realm: "bits"}, ""},
		{"discovery bare", `scopegate discovery`, &Discovery{}, ""},
		{"discovery every option", `scopegate discovery {
			token_endpoint         /v1/oauth2/token
			jwks_uri               https://keys.example/jwks.json
			authorization_endpoint /authorize
			userinfo_endpoint      /userinfo
			revocation_endpoint    /revoke
			introspection_endpoint /introspect
		}`, &Discovery{
			TokenEndpoint: "/v1/oauth2/token", JWKSURI: "https://keys.example/jwks.json",
			AuthorizationEndpoint: "/authorize", UserinfoEndpoint: "/userinfo",
			RevocationEndpoint: "/revoke", IntrospectionEndpoint: "/introspect",
		}, ""},

		{"no endpoint", `scopegate`, nil, "scopegate needs an endpoint: token, discovery"},
		{"unknown endpoint", `scopegate authorise`, nil, `unknown scopegate endpoint "authorise"`},
		{"token extra args", `scopegate token now`, nil, "wrong argument count"},
		{"discovery extra args", `scopegate discovery now`, nil, "wrong argument count"},
		{"token unknown option", "scopegate token {\n lifetime 1h\n}", nil, `unknown token endpoint option "lifetime"`},
		{"token duplicate token_type", "scopegate token {\n token_type a\n token_type b\n}", nil, `duplicate option "token_type"`},
		{"token duplicate realm", "scopegate token {\n realm a\n realm b\n}", nil, `duplicate option "realm"`},
		{"token duplicate grant_types", "scopegate token {\n grant_types client_credentials\n grant_types client_credentials\n}", nil, `duplicate option "grant_types"`},
		{"alias one arg", "scopegate token {\n alias type\n}", nil, "alias takes a response field name"},
		{"alias three args", "scopegate token {\n alias type token_type x\n}", nil, "alias takes a response field name"},
		{"alias defined twice", "scopegate token {\n alias type token_type\n alias type scope\n}", nil, `alias "type" is defined twice`},
		{"alias of unknown field", "scopegate token {\n alias type kind\n}", nil, `copies unknown field "kind"`},
		{"alias shadows a standard field", "scopegate token {\n alias token_type scope\n}", nil, "standard field"},
		{"token_type without value", "scopegate token {\n token_type\n}", nil, "wrong argument count"},
		{"token_type two values", "scopegate token {\n token_type a b\n}", nil, "wrong argument count"},
		{"realm without value", "scopegate token {\n realm\n}", nil, "wrong argument count"},
		{"grant_types without value", "scopegate token {\n grant_types\n}", nil, "wrong argument count"},
		{"user_tokens without value", "scopegate token {\n user_tokens\n}", nil, "wrong argument count"},
		{"user_tokens unknown value", "scopegate token {\n user_tokens all\n}", nil, `user_tokens "all": want allowed_clients or every_client`},
		{"unknown grant type", "scopegate token {\n grant_types client_credentials password\n}", nil, `unknown grant type "password"`},
		{"revoke argument", `scopegate revoke now`, nil, "takes no arguments"},
		{"revoke unknown option", "scopegate revoke {\n lifetime 1h\n}", nil, `unknown revoke option "lifetime" (known: realm, cors)`},
		{"revoke duplicate realm", "scopegate revoke {\n realm a\n realm b\n}", nil, `duplicate option "realm"`},
		// A cors that would allow nothing (an unset {$VAR}) or an origin no
		// browser sends is refused as the guard's is.
		{"token cors without origin", "scopegate token {\n cors\n}", nil, "cors: name the origins"},
		{"token cors with a path", "scopegate token {\n cors https://app.example.com/x\n}", nil, "an origin is scheme://host[:port]"},
		{"revoke cors null", "scopegate revoke {\n cors null\n}", nil, "must start with http"},
		{"introspect duplicate realm", "scopegate introspect {\n realm a\n realm b\n}", nil, `duplicate option "realm"`},
		{"introspect realm without value", "scopegate introspect {\n realm\n}", nil, "wrong argument count"},
		{"introspect empty realm", "scopegate introspect {\n realm \"\"\n}", nil, "wrong argument count"},
		{"discovery unknown option", "scopegate discovery {\n issuer https://x\n}", nil, `unknown discovery option "issuer"`},
		{"discovery duplicate option", "scopegate discovery {\n jwks_uri /a\n jwks_uri /b\n}", nil, `duplicate option "jwks_uri"`},
		{"discovery option without value", "scopegate discovery {\n token_endpoint\n}", nil, "wrong argument count"},
		{"discovery option two values", "scopegate discovery {\n token_endpoint /a /b\n}", nil, "wrong argument count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseScopegate(httpcaddyfile.Helper{Dispenser: caddyfile.NewTestDispenser(tc.input)})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// Errors point at the line of the offending token.
func TestParseScopegateErrorLine(t *testing.T) {
	_, err := parseScopegate(httpcaddyfile.Helper{Dispenser: caddyfile.NewTestDispenser("scopegate token {\n realm a\n bogus x\n}")})
	if err == nil || !strings.Contains(err.Error(), ":3") {
		t.Fatalf("err = %v, want it to name line 3", err)
	}
}
