package guard

import (
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/scopegate/scopegate/module/scope"
)

// The scopegate_guard directive reads inline scopes and every block option
// into the Guard's fields, and rejects unknown or repeated options, wrong
// argument counts, bad legs, invalid scope names and a guard naming no
// scope without any_token with a parse error.
func TestUnmarshalCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		want  *Guard
		err   string // substring of the error; "" when parsing must succeed
	}{
		// No scope at all must be said (any_token): an unset {$SCOPES}
		// leaves a bare directive, which let any token through.
		{name: "bare", input: `scopegate_guard`, err: "names no scope for reads, so any valid token of any client would pass"},
		{name: "only legs", input: "scopegate_guard {\n legs 3\n}", err: "names no scope"},
		{name: "any_token", input: "scopegate_guard {\n any_token\n}", want: &Guard{AnyToken: true}},
		{name: "any_token with scopes", input: "scopegate_guard demo.read {\n any_token\n}", err: "any_token means no scope is needed"},
		{name: "any_token with an argument", input: "scopegate_guard {\n any_token yes\n}", err: "wrong argument count"},
		{name: "only write_scopes", input: "scopegate_guard {\n write_scopes demo.write\n}", err: "names no scope for reads"},
		{name: "any_token and write_scopes", input: "scopegate_guard {\n any_token\n write_scopes demo.write\n}", want: &Guard{AnyToken: true, WriteScopes: []string{"demo.write"}}},
		{name: "inline scopes", input: `scopegate_guard demo.read demo.write`,
			want: &Guard{Scopes: []string{"demo.read", "demo.write"}}},
		{name: "every option", input: `scopegate_guard demo.read {
			scopes demo.write global
			any_scope user.only demo.read
			legs 3
			match_claim application_id {http.request.uri.path.1}
			match_claim tenant_hint "{http.request.header.X-Tenant}"
			impersonation X-On-Behalf-Of
			header_prefix X-Identity-
			realm "my api"
		}`, want: &Guard{
			Scopes:        []string{"demo.read", "demo.write", "global"},
			AnyScopes:     []string{"user.only", "demo.read"},
			Legs:          scope.ThreeLegged,
			MatchClaims:   map[string]string{"application_id": "{http.request.uri.path.1}", "tenant_hint": "{http.request.header.X-Tenant}"},
			Impersonation: &Impersonation{Header: "X-On-Behalf-Of"},
			HeaderPrefix:  "X-Identity-",
			Realm:         "my api",
		}},
		{name: "impersonation with the default header", input: "scopegate_guard s {\n impersonation\n}",
			want: &Guard{Scopes: []string{"s"}, Impersonation: &Impersonation{}}},
		{name: "legs 2", input: "scopegate_guard s {\n legs 2\n}", want: &Guard{Scopes: []string{"s"}, Legs: scope.TwoLegged}},
		{name: "identity_headers", input: "scopegate_guard s {\n identity_headers client_id tenant\n}",
			want: &Guard{Scopes: []string{"s"}, IdentityHeaders: []string{"client_id", "tenant"}}},
		{name: "write_scopes", input: "scopegate_guard demo.read {\n write_scopes demo.write global\n}",
			want: &Guard{Scopes: []string{"demo.read"}, WriteScopes: []string{"demo.write", "global"}}},
		{name: "write_scopes without args", input: "scopegate_guard {\n write_scopes\n}", err: "wrong argument count"},
		{name: "duplicate write_scopes", input: "scopegate_guard {\n write_scopes a\n write_scopes b\n}", err: `duplicate option "write_scopes"`},
		{name: "bad scope in write_scopes", input: "scopegate_guard {\n write_scopes \"a b\"\n}", err: "has a character RFC 6749 does not allow"},
		{name: "identity_headers default and all", input: "scopegate_guard s {\n identity_headers default token_id\n}",
			want: &Guard{Scopes: []string{"s"}, IdentityHeaders: []string{"default", "token_id"}}},
		{name: "identity_headers without names", input: "scopegate_guard {\n identity_headers\n}", err: "wrong argument count"},
		{name: "forward_token", input: "scopegate_guard s {\n forward_token\n}", want: &Guard{Scopes: []string{"s"}, ForwardToken: true}},
		{name: "forward_token with an argument", input: "scopegate_guard {\n forward_token yes\n}", err: "wrong argument count"},
		{name: "allow_encoded_slashes", input: "scopegate_guard s {\n allow_encoded_slashes\n}", want: &Guard{Scopes: []string{"s"}, AllowEncodedSlashes: true}},
		{name: "allow_encoded_slashes with an argument", input: "scopegate_guard {\n allow_encoded_slashes yes\n}", err: "wrong argument count"},
		{name: "legs any", input: "scopegate_guard s {\n legs ANY\n}", want: &Guard{Scopes: []string{"s"}, Legs: scope.AnyLegs}},
		{name: "empty block", input: "scopegate_guard demo.read {\n}", want: &Guard{Scopes: []string{"demo.read"}}},

		{name: "unknown option", input: "scopegate_guard {\n scope demo.read\n}", err: `unknown scopegate_guard option "scope"`},
		{name: "duplicate scopes", input: "scopegate_guard {\n scopes a\n scopes b\n}", err: `duplicate option "scopes"`},
		{name: "duplicate any_scope", input: "scopegate_guard {\n any_scope a\n any_scope b\n}", err: `duplicate option "any_scope"`},
		{name: "duplicate legs", input: "scopegate_guard {\n legs 2\n legs 3\n}", err: `duplicate option "legs"`},
		{name: "empty legs (an unset variable)", input: "scopegate_guard {\n legs \"\"\n}", err: "legs must be 2, 3 or any"},
		{name: "duplicate impersonation", input: "scopegate_guard {\n impersonation\n impersonation X-A\n}", err: `duplicate option "impersonation"`},
		{name: "duplicate header_prefix", input: "scopegate_guard {\n header_prefix X-A-\n header_prefix X-B-\n}", err: `duplicate option "header_prefix"`},
		{name: "duplicate realm", input: "scopegate_guard {\n realm a\n realm b\n}", err: `duplicate option "realm"`},
		{name: "duplicate match_claim", input: "scopegate_guard {\n match_claim a x\n match_claim a y\n}", err: `match_claim "a" is given twice`},
		{name: "scopes without args", input: "scopegate_guard {\n scopes\n}", err: "wrong argument count"},
		{name: "any_scope without args", input: "scopegate_guard {\n any_scope\n}", err: "wrong argument count"},
		{name: "legs without args", input: "scopegate_guard {\n legs\n}", err: "wrong argument count"},
		{name: "legs with two args", input: "scopegate_guard {\n legs 2 3\n}", err: "wrong argument count"},
		{name: "bad legs", input: "scopegate_guard {\n legs 4\n}", err: `legs must be 2, 3 or any, not "4"`},
		{name: "header_prefix without args", input: "scopegate_guard {\n header_prefix\n}", err: "wrong argument count"},
		{name: "realm with two args", input: "scopegate_guard {\n realm a b\n}", err: "wrong argument count"},
		{name: "impersonation with two args", input: "scopegate_guard {\n impersonation X-A X-B\n}", err: "wrong argument count"},
		{name: "match_claim with one arg", input: "scopegate_guard {\n match_claim a\n}", err: "match_claim takes a claim name and a value"},
		{name: "match_claim with three args", input: "scopegate_guard {\n match_claim a b c\n}", err: "match_claim takes a claim name and a value"},
		{name: "bad inline scope", input: `scopegate_guard "demo read"`, err: `scope "demo read" has a character RFC 6749 does not allow`},
		{name: "bad scope in scopes", input: "scopegate_guard {\n scopes ok \"a\\\\b\"\n}", err: "has a character RFC 6749 does not allow"},
		{name: "bad scope in any_scope", input: "scopegate_guard {\n any_scope \"caf\u00e9\"\n}", err: "has a character RFC 6749 does not allow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := new(Guard)
			err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, tc.want) {
				t.Fatalf("parsed\n  %+v\nwant\n  %+v", g, tc.want)
			}
		})
	}
}

// The registered directive parser returns a *Guard, the handler Caddy
// then provisions.
func TestParseCaddyfileDirective(t *testing.T) {
	h := httpcaddyfile.Helper{Dispenser: caddyfile.NewTestDispenser("scopegate_guard demo.read {\n legs 2\n}")}
	mh, err := parseCaddyfile(h)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := mh.(*Guard)
	if !ok || !reflect.DeepEqual(g, &Guard{Scopes: []string{"demo.read"}, Legs: scope.TwoLegged}) {
		t.Fatalf("parseCaddyfile = %#v", mh)
	}
	if _, err := parseCaddyfile(httpcaddyfile.Helper{Dispenser: caddyfile.NewTestDispenser("scopegate_guard {\n nope\n}")}); err == nil {
		t.Fatal("parseCaddyfile accepted an unknown option")
	}
}

// scopegate_strip takes no arguments and two options, allow_unclear_paths
// (without a value) and keep_headers (one or more names, repeatable);
// anything else is refused.
func TestParseStripCaddyfile(t *testing.T) {
	for input, want := range map[string]*Strip{
		"scopegate_strip": {},
		"scopegate_strip {\n allow_unclear_paths\n}":                                         {AllowUnclearPaths: true},
		"scopegate_strip X-Scopegate-":                                                       nil,
		"scopegate_strip {\n header_prefix X-\n}":                                            nil,
		"scopegate_strip {\n allow_unclear_paths yes\n}":                                     nil,
		"scopegate_strip {\n keep_headers X-Real-IP Forwarded\n keep_headers Remote-User\n}": {KeepHeaders: []string{"X-Real-IP", "Forwarded", "Remote-User"}},
		"scopegate_strip {\n keep_headers\n}":                                                nil,
	} {
		mh, err := parseStripCaddyfile(httpcaddyfile.Helper{Dispenser: caddyfile.NewTestDispenser(input)})
		if want != nil && (err != nil || !reflect.DeepEqual(mh, want)) {
			t.Errorf("%q: %#v, %v; want %#v", input, mh, err, want)
		}
		if want == nil && err == nil {
			t.Errorf("%q was accepted", input)
		}
	}
}
