package integration

import (
	"context"
	"net/http"
	"testing"

	"github.com/scopegate/scopegate/module/app"
)

// bootstrapAdmin runs the bootstrap step against the gateway's database and
// returns an admin token from the token endpoint at tokenPath.
func bootstrapAdmin(t *testing.T, g *gateway, tokenPath string) string {
	t.Helper()
	id, secret := bootstrapCredentials(t, g)
	status, body := tokenBasic(t, g, tokenPath, id, secret, nil)
	tok, _ := body["access_token"].(string)
	if status != http.StatusOK || tok == "" {
		t.Fatalf("admin token: %d %v", status, body)
	}
	return tok
}

// bootstrapCredentials makes the first admin client of g's database, as
// `caddy scopegate bootstrap` does, and returns its id and secret.
func bootstrapCredentials(t *testing.T, g *gateway) (string, string) {
	t.Helper()
	a, err := app.AppFromConfigFile(g.CfgPath, "")
	if err != nil {
		t.Fatal(err)
	}
	id, secret, err := a.Bootstrap(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	return id, secret
}

// createClient creates a client through the admin API and returns its
// credentials (a public client's secret is empty: it has none).
func createClient(t *testing.T, g *gateway, adminTok string, body map[string]any) (string, string) {
	t.Helper()
	status, out, _ := call(t, "POST", g.URL+"/admin/clients", adminTok, body)
	id, _ := out["client_id"].(string)
	secret, _ := out["client_secret"].(string)
	public, _ := body["public"].(bool) // a public client is shown no secret
	if status != http.StatusCreated || id == "" || (secret == "") != public {
		t.Fatalf("create client %v: %d %v", body["name"], status, out)
	}
	return id, secret
}

// createUser creates a user through the admin API and returns its id.
func createUser(t *testing.T, g *gateway, adminTok string, body map[string]any) string {
	t.Helper()
	status, out, _ := call(t, "POST", g.URL+"/admin/users", adminTok, body)
	id, _ := out["id"].(string)
	if status != http.StatusCreated || id == "" {
		t.Fatalf("create user %v: %d %v", body["username"], status, out)
	}
	return id
}

// createTenant creates a tenant through the admin API and returns its id.
func createTenant(t *testing.T, g *gateway, adminTok, name string) string {
	t.Helper()
	status, out, _ := call(t, "POST", g.URL+"/admin/tenants", adminTok, map[string]any{"name": name})
	id, _ := out["id"].(string)
	if status != http.StatusCreated || id == "" {
		t.Fatalf("create tenant %s: %d %v", name, status, out)
	}
	return id
}

// eachDriverWith runs fn on one Caddyfile, once on SQLite and once on
// PostgreSQL (the file's database is overridden through the environment).
func eachDriverWith(t *testing.T, file string, fn func(t *testing.T, g *gateway)) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) { fn(t, startGateway(t, file, driver)) })
	}
}
