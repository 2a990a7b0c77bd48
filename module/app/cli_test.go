package app_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/scopegate/scopegate/module/app"
)

// runScopegate runs `caddy scopegate args…` in-process, as caddycmd builds
// the command, and returns stdout, stderr and the exit status Caddy would
// end with.
func runScopegate(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	root := &cobra.Command{Use: "caddy", SilenceUsage: true}
	sg := &cobra.Command{Use: "scopegate"}
	caddycmd.Commands()["scopegate"].CobraFunc(sg)
	root.AddCommand(sg)
	var out, errOut strings.Builder
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"scopegate"}, args...))
	status := exitStatus(root.Execute())
	return out.String(), errOut.String(), status
}

// exitStatus is the status caddycmd.Main exits with for err: its own
// exitError carries one, any other error is 1.
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	if v := reflect.ValueOf(err); v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
		if f := v.Elem().FieldByName("ExitCode"); f.IsValid() {
			return int(f.Int())
		}
	}
	return 1
}

// An unknown subcommand of `caddy scopegate` (cobra checks only at the
// root) used to print the help page and exit 0, so a script's typo passed
// for success: now it is a usage error, status 2, that names the command
// and suggests the close one, a flag after it included; so is a bad flag.
// The bare command still
// prints its help and exits 0. bootstrap follows the same conventions.
func TestScopegateUnknownSubcommand(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"nope"}, app.ExitUsage, `unknown command "nope" for "caddy scopegate"`},
		{[]string{"bootstrp"}, app.ExitUsage, "did you mean bootstrap?"},
		{[]string{"bootstrap", "--bogus"}, app.ExitUsage, "unknown flag: --bogus"},
		// bootstrap's misuse as the other commands': status 2, plain text.
		{[]string{"bootstrap"}, app.ExitUsage, "Error: --config is required"},
		{[]string{"bootstrap", "extra", "--config", "x.Caddyfile"}, app.ExitUsage, "Error: usage: "},
		{[]string{"bootstrap", "--config", "x.Caddyfile", "--client-id", "sg_x"}, app.ExitUsage, "use it with --rotate"},
		{[]string{"--bogus"}, app.ExitUsage, "unknown flag: --bogus"},
		// A flag the group lacks after a command it lacks: the command is
		// what went wrong (it said "unknown flag: --config").
		{[]string{"frob", "--config", "x.Caddyfile"}, app.ExitUsage, `unknown command "frob" for "caddy scopegate"`},
		{nil, 0, ""},
	} {
		out, errOut, status := runScopegate(t, tc.args...)
		if status != tc.status || !strings.Contains(errOut, tc.stderr) {
			t.Errorf("caddy scopegate %q: status %d, stderr %q; want %d and %q", tc.args, status, errOut, tc.status, tc.stderr)
		}
		if tc.status != 0 && (out != "" || !strings.Contains(errOut, "--help' for usage")) {
			t.Errorf("caddy scopegate %q: stdout %q, stderr %q: want nothing on stdout and a pointer to --help", tc.args, out, errOut)
		}
		if tc.status == 0 && !strings.Contains(out, "bootstrap") {
			t.Errorf("caddy scopegate: help %q lacks bootstrap", out)
		}
	}
	// A bootstrap that fails (no such config) says so as the other
	// commands do: "Error: …" on stderr, status 1, no JSON log line.
	missing := filepath.Join(t.TempDir(), "none.Caddyfile")
	if out, errOut, status := runScopegate(t, "bootstrap", "--config", missing); status != app.ExitFailed || out != "" ||
		!strings.HasPrefix(errOut, "Error: ") || strings.Contains(errOut, `"level"`) {
		t.Errorf("bootstrap of a missing config: status %d, stdout %q, stderr %q; want 1 and a plain error", status, out, errOut)
	}
}
