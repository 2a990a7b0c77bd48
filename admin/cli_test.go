package admin

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/power"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// cliEnv is the command line on a fresh database, with an app open on the
// same database to check what the commands did.
type cliEnv struct {
	t   *testing.T
	cfg string
	app *app.App
}

func newCLIEnv(t *testing.T, driver string) *cliEnv {
	t.Helper()
	a := apptest.Open(t, driver)
	cfg, err := json.Marshal(map[string]any{"apps": map[string]any{"scopegate": map[string]any{
		"database": a.Database, "issuer": apptest.Issuer, "master_key": apptest.MasterKey, "scopes": apptest.DemoScopes,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "caddy.json")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return &cliEnv{t: t, cfg: path, app: a}
}

// cliResult is what one command printed and the status Caddy exits with.
type cliResult struct {
	out, err string
	status   int
}

// run runs `caddy scopegate args… --config <cfg>` in-process, with stdin.
func (e *cliEnv) run(stdin string, args ...string) cliResult {
	e.t.Helper()
	root := &cobra.Command{Use: "caddy", SilenceUsage: true}
	sg := &cobra.Command{Use: "scopegate"}
	caddycmd.Commands()["scopegate"].CobraFunc(sg)
	root.AddCommand(sg)
	var out, errOut strings.Builder
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append(append([]string{"scopegate"}, args...), "--config", e.cfg))
	status := exitStatus(root.Execute())
	return cliResult{out.String(), errOut.String(), status}
}

// ok runs a command that must succeed.
func (e *cliEnv) ok(args ...string) cliResult {
	e.t.Helper()
	r := e.run("", args...)
	if r.status != 0 {
		e.t.Fatalf("%q: status %d\nstdout: %s\nstderr: %s", args, r.status, r.out, r.err)
	}
	return r
}

// okJSON runs a command with --json that must succeed and decodes its
// output into a T.
func okJSON[T any](e *cliEnv, args ...string) T {
	e.t.Helper()
	r := e.ok(append(args, "--json")...)
	var v T
	if err := json.Unmarshal([]byte(r.out), &v); err != nil {
		e.t.Fatalf("%q printed %q: %v", args, r.out, err)
	}
	return v
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

// Every client command, with --json parsed and as text: create prints the
// secret once (stdout only) and the client authenticates with it; list,
// show, update, disable, restore, rotate (the new secret works, the old
// one stops with --grace 0), revoke-tokens and delete do what the API's
// routes do.
func TestCLIClients(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newCLIEnv(t, driver)
		ctx := context.Background()
		c := okJSON[clientView](e, "client", "create", "--name", "ci", "--scope", "demo.read demo.write", "--default-scope", "demo.read")
		if c.Name != "ci" || c.TenantID != store.DefaultTenantID || c.Owner != cliPrincipal || len(c.ClientSecret) != 43 ||
			!reflect.DeepEqual(c.Scopes, []string{"demo.read", "demo.write"}) || !reflect.DeepEqual(c.DefaultScopes, []string{"demo.read"}) {
			t.Fatalf("created %+v", c)
		}
		if _, err := e.app.AuthenticateClient(ctx, c.ClientID, c.ClientSecret); err != nil {
			t.Fatalf("the printed secret does not authenticate: %v", err)
		}

		text := e.ok("client", "create", "--name", "second", "--scope", "demo.read", "--redirect-uri", "https://a.test/cb",
			"--auth-method", "user", "--token-lifetime-minutes", "5", "--implicit-grant=false")
		if !strings.Contains(text.out, "client_secret") || strings.Contains(text.out, masked) || !strings.Contains(text.err, "only this once") {
			t.Fatalf("text create: %q / %q", text.out, text.err)
		}
		second := firstField(t, text.out, "client_id")
		got, err := e.app.Store().GetClient(ctx, second)
		if err != nil || got.AuthMethod != store.AuthUser || got.TokenLifetimeMinutes != 5 || !got.DisableImplicit ||
			!reflect.DeepEqual([]string(got.RedirectURIs), []string{"https://a.test/cb"}) {
			t.Fatalf("second client %+v, %v", got, err)
		}
		if secretLine := firstField(t, text.out, "client_secret"); strings.Contains(text.err, secretLine) {
			t.Fatal("the secret reached stderr")
		}

		l := okJSON[list[clientView]](e, "client", "list")
		if l.Total != 2 || len(l.Items) != 2 {
			t.Fatalf("list %+v", l)
		}
		for _, it := range l.Items {
			if it.ClientSecret != masked {
				t.Fatalf("list shows a secret: %+v", it)
			}
		}
		if page := okJSON[list[clientView]](e, "client", "list", "--limit", "1", "--offset", "1"); len(page.Items) != 1 || page.Total != 2 {
			t.Fatalf("page %+v", page)
		}
		if tl := e.ok("client", "list"); !strings.Contains(tl.out, "CLIENT_ID") || !strings.Contains(tl.out, c.ClientID) {
			t.Fatalf("text list %q", tl.out)
		}
		if s := okJSON[clientView](e, "client", "show", c.ClientID); s.ClientID != c.ClientID || s.ClientSecret != masked {
			t.Fatalf("show %+v", s)
		}
		if u := okJSON[clientView](e, "client", "update", c.ClientID, "--scope", "demo.read", "--default-scope", "demo.read", "--max-minutes-per-day", "60"); !reflect.DeepEqual(u.Scopes, []string{"demo.read"}) || u.MaxMinutesPerDay != 60 || u.Name != "ci" {
			t.Fatalf("update %+v", u)
		}
		if d := okJSON[clientView](e, "client", "disable", c.ClientID); d.Status != "disabled" {
			t.Fatalf("disable %+v", d)
		}
		if r := okJSON[clientView](e, "client", "restore", c.ClientID); r.Status != "active" {
			t.Fatalf("restore %+v", r)
		}
		rot := okJSON[rotateView](e, "client", "rotate", c.ClientID, "--grace", "0")
		if rot.ClientID != c.ClientID || len(rot.ClientSecret) != 43 || rot.ClientSecret == c.ClientSecret || rot.PreviousSecretValidUntil != nil {
			t.Fatalf("rotate %+v", rot)
		}
		if _, err := e.app.AuthenticateClient(ctx, c.ClientID, rot.ClientSecret); err != nil {
			t.Fatalf("the rotated secret does not authenticate: %v", err)
		}
		if _, err := e.app.AuthenticateClient(ctx, c.ClientID, c.ClientSecret); err == nil {
			t.Fatal("the old secret still works after --grace 0")
		}
		// A grace of a fraction of a second would have been cut to none.
		if r := e.run("", "client", "rotate", c.ClientID, "--grace", "999ms"); r.status != 2 || !strings.Contains(r.err, "whole seconds") {
			t.Fatalf("rotate --grace 999ms: status %d, %s", r.status, r.err)
		}
		if _, err := e.app.AuthenticateClient(ctx, c.ClientID, rot.ClientSecret); err != nil {
			t.Fatalf("a refused rotation changed the secret: %v", err)
		}
		if withGrace := okJSON[rotateView](e, "client", "rotate", c.ClientID, "--grace", "1h"); withGrace.PreviousSecretValidUntil == nil {
			t.Fatalf("rotate --grace 1h: %+v", withGrace)
		}
		// As text, the answer carries what the JSON does: when the tokens
		// were ended, and the grant types ("all" when none are listed).
		ended := e.ok("client", "revoke-tokens", c.ClientID)
		if at := firstField(t, ended.out, "tokens_revoked_at"); at == "-" {
			t.Errorf("revoke-tokens as text: tokens_revoked_at %q\n%s", at, ended.out)
		}
		if !strings.Contains(ended.out, "grant_types") || !strings.Contains(ended.out, "(all its kind allows)") {
			t.Errorf("revoke-tokens as text shows no grant_types:\n%s", ended.out)
		}
		del := okJSON[map[string]any](e, "client", "delete", second)
		if del["client_id"] != second || del["deleted"] != true {
			t.Fatalf("delete printed %v", del)
		}
		if _, err := e.app.Store().GetClient(ctx, second); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted client: %v", err)
		}
	})
}

// firstField returns the value of the "name value" line of text output.
func firstField(t *testing.T, out, name string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == name {
			return f[1]
		}
	}
	t.Fatalf("no %s in %q", name, out)
	return ""
}

// Every user command: create (password from stdin, never an argument),
// list, show, update (PATCH fields, --no-password), disable and restore.
func TestCLIUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newCLIEnv(t, driver)
		ctx := context.Background()
		const pw = "correct horse battery staple"
		r := e.run(pw+"\n", "user", "create", "--username", "ada", "--email", "ada@example.com", "--admin", "--password-stdin", "--json")
		var u userView
		if r.status != 0 || json.Unmarshal([]byte(r.out), &u) != nil || u.Username != "ada" || !u.Admin || u.SuperAdmin || u.Email != "ada@example.com" {
			t.Fatalf("create: %d %q %q", r.status, r.out, r.err)
		}
		stored, err := e.app.Store().GetUser(ctx, u.ID)
		if err != nil || !passwordIs(stored.PasswordHash, pw) {
			t.Fatalf("the password from stdin was not stored: %v", err)
		}
		if l := okJSON[list[userView]](e, "user", "list"); l.Total != 1 || l.Items[0].ID != u.ID {
			t.Fatalf("list %+v", l)
		}
		if s := okJSON[userView](e, "user", "show", u.ID); s.ID != u.ID {
			t.Fatalf("show %+v", s)
		}
		if up := okJSON[userView](e, "user", "update", u.ID, "--display-name", "Ada L", "--super-admin"); up.DisplayName != "Ada L" || !up.SuperAdmin || up.Email != "ada@example.com" {
			t.Fatalf("update %+v", up)
		}
		if d := okJSON[userView](e, "user", "disable", u.ID); !d.Disabled {
			t.Fatalf("disable %+v", d)
		}
		if rs := okJSON[userView](e, "user", "restore", u.ID); rs.Disabled {
			t.Fatalf("restore %+v", rs)
		}
		e.ok("user", "update", u.ID, "--no-password")
		if stored, err = e.app.Store().GetUser(ctx, u.ID); err != nil || stored.PasswordHash != "" {
			t.Fatalf("--no-password kept %q, %v", stored.PasswordHash, err)
		}
		if tl := e.ok("user", "show", u.ID); firstField(t, tl.out, "username") != "ada" || !strings.Contains(tl.out, "super admin") {
			t.Fatalf("text show %q", tl.out)
		}
		if bad := e.run("", "user", "update", u.ID, "--password-stdin"); bad.status != app.ExitUsage || !strings.Contains(bad.err, "no password") {
			t.Fatalf("empty stdin: %+v", bad)
		}
	})
}

// Every tenant and key command: tenant create, list and show; key list
// shows the signing key, key rotate makes a new one sign and the old one
// keep verifying (and says so), and an emergency rotation retiring the old
// keys says they stopped verifying (it said they kept verifying for 48h).
func TestCLITenantsAndKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newCLIEnv(t, driver)
		tn := okJSON[tenantView](e, "tenant", "create", "--id", "acme", "--name", "Acme")
		if tn.ID != "acme" || tn.Name != "Acme" {
			t.Fatalf("create %+v", tn)
		}
		if l := okJSON[list[tenantView]](e, "tenant", "list"); l.Total != 2 {
			t.Fatalf("list %+v", l)
		}
		if s := okJSON[tenantView](e, "tenant", "show", "acme"); s.Name != "Acme" {
			t.Fatalf("show %+v", s)
		}

		type keys struct{ Items []keyView }
		before := okJSON[keys](e, "key", "list")
		if len(before.Items) != 1 || before.Items[0].State != "signing" || before.Items[0].KID != e.app.Keys().SigningKID() {
			t.Fatalf("key list %+v", before)
		}
		// A rotation pre-publishes the next key: the old one signs until it
		// activates (key_prepublish), then retires.
		rot := okJSON[keyView](e, "key", "rotate")
		after := okJSON[keys](e, "key", "list")
		if len(after.Items) != 2 || after.Items[0].KID != rot.KID || after.Items[0].State != "pending" ||
			after.Items[1].KID != before.Items[0].KID || after.Items[1].State != "signing" || after.Items[1].RetiresAt == nil {
			t.Fatalf("after rotate %s: %+v", rot.KID, after)
		}
		if tl := e.ok("key", "list"); !strings.Contains(tl.out, rot.KID+"  pending") {
			t.Fatalf("text key list %q", tl.out)
		}
		retired := e.ok("key", "rotate", "--emergency", "--retire-old")
		if said := retired.out + retired.err; !strings.Contains(said, "stopped verifying") || strings.Contains(said, "keep verifying") {
			t.Fatalf("key rotate --emergency --retire-old said %q", said)
		}
	})
}

// The audit log names every command-line change: actor cli, via cli, from
// local, the way it names a console session's changes via console.
func TestCLIAudit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newCLIEnv(t, driver)
		c := okJSON[clientView](e, "client", "create", "--name", "audited", "--scope", "demo.read")
		e.ok("client", "disable", c.ClientID)
		e.ok("tenant", "create", "--id", "acme", "--name", "Acme")
		e.ok("key", "rotate")
		rows, _, err := e.app.Store().ListAudit(context.Background(), "", store.Page{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"client.create": false, "client.disable": false, "tenant.create": false}
		keyRotated := false
		for _, r := range rows {
			if strings.HasPrefix(r.Action, "key") {
				keyRotated = true
			} else if _, ok := want[r.Action]; !ok {
				continue
			}
			want[r.Action] = true
			if r.Actor != cliPrincipal || r.Via != cliVia || r.RemoteAddr != "local" {
				t.Errorf("%s: actor %q via %q from %q, want cli via cli from local", r.Action, r.Actor, r.Via, r.RemoteAddr)
			}
		}
		for action, seen := range want {
			if !seen {
				t.Errorf("no %s row in %+v", action, rows)
			}
		}
		if !keyRotated {
			t.Errorf("no key rotation row in %+v", rows)
		}
	})
}

// The command line is a super admin (whoever reads the config and opens
// the database holds everything), but every rule of the API that binds a
// super admin binds it too: unknown scopes, the admin-client rules, the
// super admin level outside the default tenant and duplicate names are
// refused with the API's problem, printed with its fields, status 1.
func TestCLIKeepsTheAPIRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newCLIEnv(t, driver)
		e.ok("tenant", "create", "--id", "acme", "--name", "Acme")
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"client", "create", "--name", "x", "--scope", "nope"}, `scopes: unknown scope "nope"`},
			{[]string{"client", "create", "--name", "x", "--scope", scope.Admin, "--allow-user-tokens"}, "allow_user_tokens:"},
			{[]string{"user", "create", "--username", "bob", "--tenant", "acme", "--super-admin"}, "super_admin: only a user of the"},
			{[]string{"tenant", "create", "--id", "acme", "--name", "Acme"}, "already exists"},
			{[]string{"client", "show", "sg_missing"}, "no such client"},
			{[]string{"client", "rotate", "sg_missing", "--grace", "-1s"}, "--grace must not be negative"},
		} {
			r := e.run("", tc.args...)
			if r.status == 0 || r.out != "" || !strings.Contains(r.err, tc.want) {
				t.Errorf("%q: status %d, stdout %q, stderr %q; want a failure saying %q", tc.args, r.status, r.out, r.err, tc.want)
			}
		}
		if n := countAll(t, e); n != 0 {
			t.Fatalf("%d clients exist after refusals", n)
		}
		// By design it manages what only a super admin may: a client
		// holding scopegate.admin, made and rotated from the shell.
		adm := okJSON[clientView](e, "client", "create", "--name", "ops-admin", "--scope", scope.Admin)
		if rot := okJSON[rotateView](e, "client", "rotate", adm.ClientID); rot.ClientSecret == "" {
			t.Fatal("could not rotate an admin client")
		}
	})
}

func countAll(t *testing.T, e *cliEnv) int64 {
	t.Helper()
	_, n, err := e.app.Store().ListClients(context.Background(), store.ClientFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Misuse is status 2 with a message on stderr and nothing on stdout: an
// unknown subcommand at any depth, an unknown flag, a missing or extra
// argument, no --config, and token without a client or an endpoint.
func TestCLIUsageErrors(t *testing.T) {
	e := newCLIEnv(t, store.SQLite)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"client", "frobnicate"}, `unknown command "frobnicate" for "caddy scopegate client"`},
		{[]string{"client", "frobnicate", "--config", "x"}, `unknown command "frobnicate" for "caddy scopegate client"`},
		{[]string{"client", "rotat"}, "did you mean rotate?"},
		{[]string{"user", "nope"}, `unknown command "nope"`},
		{[]string{"tenant", "delete", "acme"}, `unknown command "delete"`},
		{[]string{"key", "shred"}, `unknown command "shred"`},
		{[]string{"client", "create", "--nope"}, "unknown flag: --nope"},
		{[]string{"client", "list", "--limit", "many"}, `invalid argument "many"`},
		{[]string{"client", "show"}, "usage: caddy scopegate client show <client-id>"},
		{[]string{"client", "show", "a", "b"}, "got 2 arguments"},
		{[]string{"token"}, "--client-id is required"},
		{[]string{"token", "--client-id", "sg_x", "--client-secret", "s", "--url", "ftp://x"}, "--url must be an http(s) URL"},
	} {
		r := e.run("", tc.args...)
		if r.status != app.ExitUsage || r.out != "" || !strings.Contains(r.err, tc.want) {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want status 2 saying %q", tc.args, r.status, r.out, r.err, tc.want)
		}
	}
	// No --config at all (run always adds one).
	root := &cobra.Command{Use: "caddy", SilenceUsage: true}
	sg := &cobra.Command{Use: "scopegate"}
	caddycmd.Commands()["scopegate"].CobraFunc(sg)
	root.AddCommand(sg)
	var errOut strings.Builder
	root.SetErr(&errOut)
	root.SetOut(&strings.Builder{})
	root.SetArgs([]string{"scopegate", "client", "list"})
	if status := exitStatus(root.Execute()); status != app.ExitUsage || !strings.Contains(errOut.String(), "--config is required") {
		t.Errorf("no --config: status %d, stderr %q", status, errOut.String())
	}
	// The groups still show their help.
	if r := e.run("", "client", "--help"); r.status != 0 || !strings.Contains(r.out, "rotate") {
		t.Errorf("client --help: %+v", r)
	}
}

// The command line's caller comes from the one power function (power.Of)
// through callerFor: a super admin, principal and via "cli", from local,
// with no user and no client behind it.
func TestCLICaller(t *testing.T) {
	e := newEnv(t, store.SQLite)
	s := &session{h: e.h}
	c, oerr := s.h.callerFor(power.Grounds{Local: true}, nil)
	if oerr != nil {
		t.Fatal(oerr)
	}
	if !c.super || c.principal != cliPrincipal || c.via != cliVia || c.remote != "local" || c.user != "" || c.adminUser != "" ||
		c.tenant != store.DefaultTenantID || c.claims == nil || c.claims.ClientID != "" {
		t.Fatalf("caller %+v", c)
	}
	if a := c.actor("acme"); a.Principal != cliPrincipal || a.Via != cliVia || a.RemoteAddr != "local" || a.TenantID != "acme" {
		t.Fatalf("actor %+v", a)
	}
}
