package admin

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/standard" // handle_path, respond
)

// The directive takes no arguments and two options, connect_as_creator and
// require_connect_as (bare flags, off unless given): the bare directive, an
// empty block and the options parse to the right settings; an argument, an
// unknown option, an argument to an option, an option twice or a stray token
// is an error that names the problem.
func TestUnmarshalCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		input            string
		creator, require bool
		err              string // "" when it must parse
	}{
		{"scopegate_admin", false, false, ""},
		{"scopegate_admin {\n}", false, false, ""},
		{"scopegate_admin {\n\tconnect_as_creator\n}", true, false, ""},
		{"scopegate_admin {\n\trequire_connect_as\n}", false, true, ""},
		{"scopegate_admin {\n\trequire_connect_as\n\tconnect_as_creator\n}", true, true, ""},
		{"scopegate_admin extra", false, false, "takes no arguments"},
		{"scopegate_admin a b", false, false, "takes no arguments"},
		{"scopegate_admin {\n\tissuer x\n}", false, false, `unknown option "issuer"`},
		{"scopegate_admin {\n\tdebug\n}", false, false, `unknown option "debug"`},
		{"scopegate_admin {\n\tconnect_as_creator yes\n}", false, false, "connect_as_creator takes no arguments"},
		{"scopegate_admin {\n\trequire_connect_as on\n}", false, false, "require_connect_as takes no arguments"},
		{"scopegate_admin {\n\tconnect_as_creator\n\tconnect_as_creator\n}", false, false, "connect_as_creator is given twice"},
		{"scopegate_admin {\n\trequire_connect_as\n\trequire_connect_as\n}", false, false, "require_connect_as is given twice"},
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: unexpected error %v", tc.input, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one containing %q", tc.input, err, tc.err)
		case tc.err == "" && (h.ConnectAsCreator != tc.creator || h.RequireConnectAs != tc.require):
			t.Errorf("%q: connect_as_creator = %v, require_connect_as = %v, want %v, %v", tc.input, h.ConnectAsCreator, h.RequireConnectAs, tc.creator, tc.require)
		}
	}
}

// A Caddyfile using the directive adapts to the scopegate_admin handler,
// inside handle_path and, thanks to the registered order, ahead of respond
// in the same site without a route block; arguments are refused there too;
// connect_as_creator becomes "connect_as_creator": true.
func TestCaddyfileAdapt(t *testing.T) {
	adapter := caddyconfig.GetAdapter("caddyfile")
	adapt := func(src string) (string, error) {
		out, _, err := adapter.Adapt([]byte(src), nil)
		return string(out), err
	}

	out, err := adapt(":8080 {\n\thandle_path /admin/* {\n\t\tscopegate_admin\n\t}\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"handler":"scopegate_admin"`) || !strings.Contains(out, `"strip_path_prefix":"/admin"`) {
		t.Fatalf("adapted config lacks the handler or the prefix strip: %s", out)
	}
	var cfg any
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("adapted config is not JSON: %v", err)
	}

	out, err = adapt(":8080 {\n\trespond /health \"ok\"\n\tscopegate_admin /admin/*\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	adminAt, respondAt := strings.Index(out, `"handler":"scopegate_admin"`), strings.Index(out, `"handler":"static_response"`)
	if adminAt < 0 || respondAt < 0 || adminAt > respondAt {
		t.Fatalf("scopegate_admin is not ordered before respond: %s", out)
	}

	if _, err := adapt(":8080 {\n\tscopegate_admin /admin/* extra\n}\n"); err == nil {
		t.Fatal("an argument after the matcher was accepted")
	}

	out, err = adapt(":8080 {\n\thandle_path /admin/* {\n\t\tscopegate_admin {\n\t\t\tconnect_as_creator\n\t\t}\n\t}\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"connect_as_creator":true,"handler":"scopegate_admin"`) && !strings.Contains(out, `"handler":"scopegate_admin","connect_as_creator":true`) {
		t.Fatalf("connect_as_creator is not in the adapted JSON: %s", out)
	}
}
