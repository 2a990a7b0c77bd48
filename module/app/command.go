package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/scopegate/scopegate/module/power"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
)

// BootstrapClientName names the first admin client.
const BootstrapClientName = "scopegate-admin"

// ErrAlreadyBootstrapped means the first admin client exists already.
var ErrAlreadyBootstrapped = errors.New("an admin client already exists")

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "scopegate",
		Short: "Scopegate maintenance commands",
		Long: `
Commands that work on Scopegate's database directly, with the database and
master key named by the config file's scopegate app: bootstrap creates the
first admin client; client, user, tenant and key manage them as the admin
API does (a super admin's power: whoever can read the config and open its
database already holds everything); token fetches a token from a gateway.
`,
		CobraFunc: func(cmd *cobra.Command) {
			boot := &cobra.Command{
				Use:   "bootstrap --config <path> [--adapter <name>] [--rotate [--client-id <id>]]",
				Short: "Creates the first admin client and prints its credentials as JSON",
				Long: `
Creates the first admin client (scope scopegate.admin) in the database the
config names and prints {"client_id": "...", "client_secret": "..."} once.
Running it again fails while any client of the default tenant is a super
admin (enabled, holding scopegate.admin, and not made by an admin user who
has lost that power), whatever its name: secrets are never shown twice. Use
--rotate to give the admin client a new secret (the old one stops working):
the only one, or the one bootstrap made; when several exist, name it with
--client-id.
`,
				// Its errors as the other commands': "Error: …" on stderr,
				// status 1, and 2 for misuse (not a JSON log line).
				RunE: RunE(cmdBootstrap),
			}
			boot.Flags().StringP("config", "c", "", "Configuration file (required)")
			boot.Flags().StringP("adapter", "a", "", "Name of config adapter")
			boot.Flags().Bool("rotate", false, "Replace the existing admin client's secret")
			boot.Flags().String("client-id", "", "With --rotate: the admin client to rotate, when there are several")
			cmd.AddCommand(boot)
			Group(cmd)
			for _, add := range subcommands {
				add(cmd)
			}
		},
	})
}

func cmdBootstrap(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("usage: %s (got %d arguments)", cmd.UseLine(), len(args))
	}
	fl := caddycmd.Flags{FlagSet: cmd.Flags()}
	cfgFile := fl.String("config")
	if cfgFile == "" {
		return Usagef("--config is required: it names the database and master key")
	}
	rotate, clientID := fl.Bool("rotate"), fl.String("client-id")
	if clientID != "" && !rotate {
		return Usagef("--client-id names the client to rotate: use it with --rotate")
	}
	a, err := AppFromConfigFile(cfgFile, fl.String("adapter"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	newFile, created := a.NewSQLiteFile()
	id, secretValue, err := a.bootstrap(ctx, rotate, clientID)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: no database was at %s, so bootstrap made one there; if you meant your gateway's, check --config and XDG_DATA_HOME (Caddy's data directory)\n", newFile)
	}
	out, _ := json.MarshalIndent(map[string]string{"client_id": id, "client_secret": secretValue}, "", "  ")
	fmt.Fprintln(cmd.OutOrStdout(), string(out))
	return nil
}

// AppFromConfigFile reads the scopegate app out of a config file (Caddyfile
// or JSON) and fills in its defaults, without starting anything.
func AppFromConfigFile(path, adapter string) (*App, error) {
	raw, _, _, err := caddycmd.LoadConfig(path, adapter)
	if err != nil {
		return nil, err
	}
	var cfg struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, err
	}
	a := &App{configJSON: raw}
	if appRaw, ok := cfg.Apps["scopegate"]; ok {
		if err := json.Unmarshal(appRaw, a); err != nil {
			return nil, fmt.Errorf("scopegate app config: %w", err)
		}
	}
	if err := a.setDefaults(); err != nil {
		return nil, err
	}
	return a, a.Validate()
}

// ConfigJSON is the whole config, as JSON, that AppFromConfigFile read (nil
// for an app Caddy provisioned), for the command line to apply what the
// config says beside the app (the admin sub-route's options, say).
func (a *App) ConfigJSON() []byte { return a.configJSON }

// Bootstrap creates the first admin client and returns its credentials, or
// with rotate gives an existing one a new secret (see BootstrapRotate). An
// admin client is any client of the default tenant whose tokens are a super
// admin by the rules the admin API applies (module/power), whatever its
// name: renaming the first one must not let a second run create another,
// and a client whose power ended with its creator's does not stop one. It
// opens the database on its own, so it works while no Caddy is running.
func (a *App) Bootstrap(ctx context.Context, rotate bool) (string, string, error) {
	return a.bootstrap(ctx, rotate, "")
}

// BootstrapRotate gives an admin client a new secret, the old one stopping
// at once: the one named clientID if given; else the only admin client;
// else, of several, the one bootstrap made (it owns itself). Several with no
// clientID and none (or more than one) made by bootstrap is an error that
// lists them, since guessing would cut off a live admin. With no admin
// client at all it creates one, as Bootstrap does.
func (a *App) BootstrapRotate(ctx context.Context, clientID string) (string, string, error) {
	return a.bootstrap(ctx, true, clientID)
}

func (a *App) bootstrap(ctx context.Context, rotate bool, clientID string) (string, string, error) {
	if path, missing := a.NewSQLiteFile(); missing && rotate {
		// Rotating replaces a leaked admin secret of an existing database:
		// one made here (another data directory, a config naming another
		// file) would print a new admin while the leaked one still works.
		return "", "", fmt.Errorf("no database is at %s, so there is no admin client to rotate; check --config and XDG_DATA_HOME (Caddy's data directory)", path)
	}
	if err := a.OpenStandalone(); err != nil {
		return "", "", err
	}
	defer a.CloseStandalone()
	rt := a.runtime()

	actor := store.Actor{Principal: "bootstrap", TenantID: store.DefaultTenantID, RemoteAddr: "local"}
	admins, err := a.adminClients(ctx)
	if err != nil {
		return "", "", err
	}
	if len(admins) > 0 || clientID != "" {
		if !rotate {
			return "", "", fmt.Errorf("%w (%s); its secret is never shown again: run with --rotate to replace it",
				ErrAlreadyBootstrapped, describeClients(admins))
		}
		target, err := rotationTarget(admins, clientID)
		if err != nil {
			return "", "", err
		}
		plain, digest, ct, err := a.NewSecret(target.ID)
		if err != nil {
			return "", "", err
		}
		if err := rt.Store.RotateSecret(ctx, target.ID, digest, ct, nil, actor); err != nil {
			return "", "", err
		}
		return target.ID, plain, nil
	}

	name, err := a.bootstrapName(ctx)
	if err != nil {
		return "", "", err
	}
	id := NewClientID()
	plain, digest, ct, err := a.NewSecret(id)
	if err != nil {
		return "", "", err
	}
	c := &store.Client{
		ID: id, TenantID: store.DefaultTenantID, Name: name, AuthMethod: store.AuthAPIKey,
		AllowedScopes: store.Strings{scope.Admin}, DefaultScopes: store.Strings{scope.Admin},
		OwnerID: id, SecretDigest: digest, SecretCiphertext: ct, // no user's power behind it: CreatorUserID ""
	}
	if err := rt.Store.CreateClient(ctx, c, actor); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "", "", fmt.Errorf("%w: another bootstrap ran at the same time", ErrAlreadyBootstrapped)
		}
		return "", "", err
	}
	return id, plain, nil
}

// adminClients lists the clients of the default tenant whose tokens are a
// super admin (isAdminClient), oldest first.
func (a *App) adminClients(ctx context.Context) ([]store.Client, error) {
	var out []store.Client
	for p := (store.Page{Limit: 500}); ; p.Offset += p.Limit {
		rows, total, err := a.runtime().Store.ListClients(ctx, store.ClientFilter{TenantID: store.DefaultTenantID, Page: p})
		if err != nil {
			return nil, err
		}
		for _, c := range rows {
			ok, err := a.isAdminClient(ctx, &c)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, c)
			}
		}
		if len(rows) == 0 || int64(p.Offset+len(rows)) >= total {
			return out, nil
		}
	}
}

// isAdminClient reports whether c's 2-legged tokens are a super admin by
// the admin API's own rule (power.Of): enabled, holding scopegate.admin in
// the default tenant, and not made by an admin user who has lost that
// power. That is what counts as an existing admin for bootstrap.
func (a *App) isAdminClient(ctx context.Context, c *store.Client) (bool, error) {
	g := power.Grounds{Scopes: c.AllowedScopes, TenantID: c.TenantID, Client: c}
	var err error
	if g.Lineage, err = store.LineageOf(ctx, c, a.runtime().Store.DBOwnerLookup()); err != nil {
		return false, err
	}
	p, _ := power.Of(a.catalogue, g)
	return p.Level == power.Super, nil
}

// rotationTarget picks the admin client --rotate replaces (BootstrapRotate).
func rotationTarget(admins []store.Client, clientID string) (*store.Client, error) {
	if clientID != "" {
		for i := range admins {
			if admins[i].ID == clientID {
				return &admins[i], nil
			}
		}
		return nil, fmt.Errorf("%s is not a super admin client of the default tenant (enabled, holding %s, its creator still a super admin); admin clients: %s",
			clientID, scope.Admin, describeClients(admins))
	}
	if len(admins) == 1 {
		return &admins[0], nil
	}
	var made []*store.Client
	for i := range admins {
		if admins[i].OwnerID == admins[i].ID { // only bootstrap makes a client its own owner
			made = append(made, &admins[i])
		}
	}
	if len(made) == 1 {
		return made[0], nil
	}
	return nil, fmt.Errorf("%d admin clients exist (%s) and --rotate cannot tell which one to replace: "+
		"run with --rotate --client-id <id>", len(admins), describeClients(admins))
}

// describeClients names clients for an error message: ids and names only.
func describeClients(cs []store.Client) string {
	if len(cs) == 0 {
		return "none"
	}
	const show = 5
	parts := make([]string, 0, show+1)
	for i, c := range cs {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(cs)-show))
			break
		}
		parts = append(parts, fmt.Sprintf("client_id %s %q", c.ID, c.Name))
	}
	return strings.Join(parts, ", ")
}

// bootstrapName is the first of scopegate-admin, scopegate-admin-2, … that
// no client of the default tenant has (a disabled admin client may keep the
// first). Concurrent runs walk the same names: they pick the same one, so
// the unique name lets only one of them create a client, or one finds the
// admin client another made in the meantime and stops.
func (a *App) bootstrapName(ctx context.Context) (string, error) {
	for i := 1; i <= 100; i++ {
		name := BootstrapClientName
		if i > 1 {
			name = fmt.Sprintf("%s-%d", BootstrapClientName, i)
		}
		c, err := a.runtime().Store.FindClientByName(ctx, store.DefaultTenantID, name)
		if errors.Is(err, store.ErrNotFound) {
			return name, nil
		}
		if err != nil {
			return "", err
		}
		admin, err := a.isAdminClient(ctx, c)
		if err != nil {
			return "", err
		}
		if admin {
			return "", fmt.Errorf("%w: another bootstrap ran at the same time (client_id %s)", ErrAlreadyBootstrapped, c.ID)
		}
	}
	return "", fmt.Errorf("no free name for an admin client: %s to %s-100 are all taken", BootstrapClientName, BootstrapClientName)
}

// NewSQLiteFile reports the path of the app's SQLite file when there is
// none yet, so a command that is about to create it can say so: one run
// with another data directory (XDG_DATA_HOME) or a config pointing
// elsewhere would otherwise work on an empty database of its own, silently.
func (a *App) NewSQLiteFile() (string, bool) {
	cfg, err := a.runtimeConfig()
	if err != nil {
		return "", false
	}
	return cfg.newSQLiteFile()
}

// newSQLiteFile reports the path of the config's SQLite file when there is
// none yet (opening the store would make it).
func (c runtimeConfig) newSQLiteFile() (string, bool) {
	if c.driver != store.SQLite {
		return "", false
	}
	path := store.SQLiteFile(c.dsn)
	if path == "" {
		return "", false
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	return path, true
}
