package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

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
master key named by the config file's scopegate app.

  bootstrap   creates the first admin client and prints its credentials
`,
		CobraFunc: func(cmd *cobra.Command) {
			boot := &cobra.Command{
				Use:   "bootstrap --config <path> [--adapter <name>] [--rotate]",
				Short: "Creates the first admin client and prints its credentials as JSON",
				Long: `
Creates the first admin client (scope scopegate.admin) in the database the
config names and prints {"client_id": "...", "client_secret": "..."} once.
Running it again fails: secrets are never shown twice. Use --rotate to give
the existing admin client a new secret (the old one stops working).
`,
				RunE: caddycmd.WrapCommandFuncForCobra(cmdBootstrap),
			}
			boot.Flags().StringP("config", "c", "", "Configuration file (required)")
			boot.Flags().StringP("adapter", "a", "", "Name of config adapter")
			boot.Flags().Bool("rotate", false, "Replace the existing admin client's secret")
			cmd.AddCommand(boot)
		},
	})
}

func cmdBootstrap(fl caddycmd.Flags) (int, error) {
	cfgFile := fl.String("config")
	if cfgFile == "" {
		return caddy.ExitCodeFailedStartup, errors.New("--config is required")
	}
	a, err := AppFromConfigFile(cfgFile, fl.String("adapter"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id, secretValue, err := a.Bootstrap(ctx, fl.Bool("rotate"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	out, _ := json.MarshalIndent(map[string]string{"client_id": id, "client_secret": secretValue}, "", "  ")
	fmt.Fprintln(os.Stdout, string(out))
	return caddy.ExitCodeSuccess, nil
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
	a := new(App)
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

// Bootstrap creates the first admin client and returns its credentials, or
// with rotate gives the existing one a new secret. It opens the database on
// its own, so it works while no Caddy is running.
func (a *App) Bootstrap(ctx context.Context, rotate bool) (string, string, error) {
	if err := a.OpenStandalone(); err != nil {
		return "", "", err
	}
	defer a.CloseStandalone()
	rt := a.rt

	actor := store.Actor{Principal: "bootstrap", TenantID: store.DefaultTenantID, RemoteAddr: "local"}
	existing, err := rt.Store.FindClientByName(ctx, store.DefaultTenantID, BootstrapClientName)
	switch {
	case err == nil && !rotate:
		return "", "", fmt.Errorf("%w (client_id %s); its secret is never shown again: run with --rotate to replace it", ErrAlreadyBootstrapped, existing.ID)
	case err == nil:
		plain, digest, ct, err := a.NewSecret(existing.ID)
		if err != nil {
			return "", "", err
		}
		if err := rt.Store.RotateSecret(ctx, existing.ID, digest, ct, nil, actor); err != nil {
			return "", "", err
		}
		return existing.ID, plain, nil
	case !errors.Is(err, store.ErrNotFound):
		return "", "", err
	}
	id := NewClientID()
	plain, digest, ct, err := a.NewSecret(id)
	if err != nil {
		return "", "", err
	}
	c := &store.Client{
		ID: id, TenantID: store.DefaultTenantID, Name: BootstrapClientName, AuthMethod: store.AuthAPIKey,
		AllowedScopes: store.Strings{scope.Admin}, DefaultScopes: store.Strings{scope.Admin},
		OwnerID: id, SecretDigest: digest, SecretCiphertext: ct,
	}
	if err := rt.Store.CreateClient(ctx, c, actor); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "", "", fmt.Errorf("%w: another bootstrap ran at the same time", ErrAlreadyBootstrapped)
		}
		return "", "", err
	}
	return id, plain, nil
}
