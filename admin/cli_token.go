package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scopegate/scopegate/module/app"
)

// tokenSecretEnv may hold the client secret of `caddy scopegate token`,
// which keeps it out of shell history and the process list.
const tokenSecretEnv = "SCOPEGATE_CLIENT_SECRET"

// maxTokenAnswer bounds what is read from a token endpoint.
const maxTokenAnswer = 1 << 20

// tokenCommand is `caddy scopegate token`: a real client_credentials
// request (RFC 6749 §4.4) to a running gateway, as any client makes it,
// for scripts and smoke tests. It goes over HTTP rather than minting in
// this process so that it proves the endpoint works and gets exactly what
// a client would: the endpoint's grant settings, aliases and lifetimes.
func tokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token --client-id <id> (--url <token-endpoint> | --config <path>)",
		Short: "Fetches a client_credentials token from a running gateway",
		Long: `
Asks a running gateway's token endpoint for a client_credentials token and
prints the access token (with --json, the whole token response). The client
authenticates with HTTP Basic; its secret comes from --client-secret or,
better (it stays out of shell history), from $` + tokenSecretEnv + `.
The endpoint is --url, or the token_endpoint of the RFC 8414 metadata
published at the issuer the config file names.
`,
		RunE: app.RunE(runToken),
	}
	fl := cmd.Flags()
	fl.StringP("config", "c", "", "Configuration file: its issuer's metadata names the token endpoint")
	fl.StringP("adapter", "a", "", "Name of config adapter")
	fl.String("url", "", "Token endpoint, e.g. http://127.0.0.1:8080/oauth2/token")
	fl.String("client-id", "", "Client id (required)")
	fl.String("client-secret", "", "Client secret (default: $"+tokenSecretEnv+")")
	fl.String("scope", "", `Scopes to ask for, space-separated (default: the client's default scopes)`)
	fl.Bool("json", false, "Print the whole token response as JSON")
	return cmd
}

func runToken(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return app.Usagef("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	fl := cmd.Flags()
	id, _ := fl.GetString("client-id")
	secretValue, _ := fl.GetString("client-secret")
	endpoint, _ := fl.GetString("url")
	cfg, _ := fl.GetString("config")
	if !fl.Changed("client-secret") {
		secretValue = os.Getenv(tokenSecretEnv)
	}
	switch {
	case id == "":
		return app.Usagef("--client-id is required")
	case secretValue == "":
		return app.Usagef("no client secret: set $%s or pass --client-secret", tokenSecretEnv)
	case endpoint == "" && cfg == "":
		return app.Usagef("name the token endpoint with --url, or the config whose issuer publishes it with --config")
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	client := &http.Client{
		Timeout: 30 * time.Second,
		// A redirect would send the credentials on to wherever it points.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if endpoint == "" {
		adapter, _ := fl.GetString("adapter")
		a, err := app.AppFromConfigFile(cfg, adapter)
		if err != nil {
			return err
		}
		if endpoint, err = discoverTokenEndpoint(ctx, client, a.Issuer); err != nil {
			return fmt.Errorf("%w (or name the token endpoint with --url)", err)
		}
	} else if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return app.Usagef("--url must be an http(s) URL, not %q", endpoint)
	}

	form := url.Values{"grant_type": {"client_credentials"}}
	if scope, _ := fl.GetString("scope"); scope != "" {
		form.Set("scope", scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: both form-encoded before Basic encodes them.
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secretValue))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenAnswer))
	if err != nil {
		return err
	}
	var answer struct {
		AccessToken      string `json:"access_token"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &answer)
	switch {
	case resp.StatusCode == http.StatusOK && answer.AccessToken != "":
	case answer.Error != "":
		return fmt.Errorf("the token endpoint refused (HTTP %d): %s: %s", resp.StatusCode, answer.Error, answer.ErrorDescription)
	default:
		return fmt.Errorf("%s answered HTTP %d without a token", endpoint, resp.StatusCode)
	}
	out := cmd.OutOrStdout()
	if asJSON, _ := fl.GetBool("json"); asJSON {
		var b bytes.Buffer
		if err := json.Indent(&b, bytes.TrimSpace(body), "", "  "); err != nil {
			return err
		}
		b.WriteByte('\n')
		_, err = out.Write(b.Bytes())
		return err
	}
	_, err = fmt.Fprintln(out, answer.AccessToken)
	return err
}

// discoverTokenEndpoint reads the token endpoint from the issuer's RFC 8414
// metadata, which must name the same issuer (§3.3).
func discoverTokenEndpoint(ctx context.Context, client *http.Client, issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return "", err
	}
	meta := *u
	meta.Path = "/.well-known/oauth-authorization-server" + strings.TrimSuffix(u.Path, "/") // §3.1
	meta.RawPath = ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, meta.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("reading the issuer's metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s answered HTTP %d", meta.String(), resp.StatusCode)
	}
	var m struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxTokenAnswer)).Decode(&m); err != nil {
		return "", fmt.Errorf("%s: %w", meta.String(), err)
	}
	if m.Issuer != issuer {
		return "", fmt.Errorf("%s names issuer %q, not the config's %q", meta.String(), m.Issuer, issuer)
	}
	if te, err := url.Parse(m.TokenEndpoint); err != nil || (te.Scheme != "http" && te.Scheme != "https") || te.Host == "" {
		return "", errors.New("the issuer's metadata has no usable token_endpoint")
	}
	return m.TokenEndpoint, nil
}
