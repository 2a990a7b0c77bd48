package main

// The propagation phase's tokens: minted with the cluster's key ring, cached
// on every node by one guarded request each.

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/secret"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

// mintForLoad opens the run's database as the operator's shell does,
// makes the bootstrap admin and n demo.read clients, and mints perClient
// tokens for each with the shared key ring, the claims the token endpoint
// gives a client_credentials token.
func mintForLoad(ctx context.Context, cfgPath string, n, perClient int) (clients []*loadClient, adminID, adminSecret string, err error) {
	a, err := app.AppFromConfigFile(cfgPath, "")
	if err != nil {
		return nil, "", "", err
	}
	if adminID, adminSecret, err = a.Bootstrap(ctx, false); err != nil { // opens and closes the database
		return nil, "", "", err
	}
	if err := a.OpenStandalone(); err != nil {
		return nil, "", "", err
	}
	defer a.CloseStandalone()
	now := time.Now()
	for i := range n {
		c := &loadClient{id: app.NewClientID()}
		secretValue, digest, ct, err := a.NewSecret(c.id)
		if err != nil {
			return nil, "", "", err
		}
		c.secret = secretValue
		row := &store.Client{ID: c.id, TenantID: store.DefaultTenantID, Name: "propagation-" + strconv.Itoa(i), AuthMethod: store.AuthAPIKey,
			AllowedScopes: store.Strings{"demo.read"}, DefaultScopes: store.Strings{"demo.read"},
			OwnerID: c.id, SecretDigest: digest, SecretCiphertext: ct}
		if err := a.Store().CreateClient(ctx, row, store.Actor{Principal: "load"}); err != nil {
			return nil, "", "", err
		}
		for range perClient {
			raw, err := a.Sign(&token.Claims{
				RegisteredClaims: jwt.RegisteredClaims{
					Issuer: a.Issuer, Subject: c.id, Audience: jwt.ClaimStrings{a.Audience},
					ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now),
					ID: secret.NewToken(16),
				},
				ClientID: c.id, Scope: "demo.read", Tenant: store.DefaultTenantID, Legs: 2,
			})
			if err != nil {
				return nil, "", "", err
			}
			c.tokens = append(c.tokens, raw)
		}
		clients = append(clients, c)
	}
	return clients, adminID, adminSecret, nil
}

// fillCaches has every node let every client's tokens through its guarded
// route twice (a node caches a token on its second verification), from
// conns workers, one pass after the other.
func fillCaches(client *http.Client, nodes []*loadNode, clients []*loadClient, conns int) error {
	var toks []string
	for _, c := range clients {
		toks = append(toks, c.tokens...)
	}
	for range 2 {
		if err := presentAll(client, nodes, toks, conns); err != nil {
			return err
		}
	}
	return nil
}

// presentAll sends every token once to every node's guarded route.
func presentAll(client *http.Client, nodes []*loadNode, toks []string, conns int) error {
	return forEach(conns, len(toks)*len(nodes), func(i int) error {
		n := nodes[i%len(nodes)]
		if status, err := guarded(client, n, toks[i/len(nodes)]); err != nil || status != http.StatusOK {
			return fmt.Errorf("filling node %s's cache: %d %v", n.name, status, err)
		}
		return nil
	})
}

// guarded sends one GET with tok to n's guarded route.
func guarded(client *http.Client, n *loadNode, tok string) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, n.url+"/api/propagation", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// post sends a POST (a form when form is not nil) and wants a 200.
func post(client *http.Client, target, authorization string, form url.Values) error {
	req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Authorization", authorization)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %d %s", target, resp.StatusCode, body)
	}
	return nil
}

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}
