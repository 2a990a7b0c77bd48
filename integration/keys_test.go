package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/scopegate/scopegate/module/store"
)

// withKeyPrepublish writes a copy of the shipped file whose scopegate block
// sets key_prepublish, and returns the copy's path.
func withKeyPrepublish(t *testing.T, file, delay string) string {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "caddyfiles", file))
	if err != nil {
		t.Fatal(err)
	}
	const block = "\n\tscopegate {\n"
	if !strings.Contains(string(body), block) {
		t.Fatalf("%s has no scopegate block", file)
	}
	text := strings.Replace(string(body), block, block+"\t\tkey_prepublish "+delay+"\n", 1)
	path := filepath.Join(t.TempDir(), file)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// minted is what a background minter saw: how many tokens each kid signed
// and every token its JWKS-caching verifier refused.
type minted struct {
	mu       sync.Mutex
	byKID    map[string]int
	failures []string
}

func (m *minted) count(kid string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byKID[kid]
}

// mintAndVerify gets client_credentials tokens from g one after another
// until ctx ends and verifies each with kf, as an upstream would.
func mintAndVerify(ctx context.Context, g *gateway, id, secret string, kf keyfunc.Keyfunc, m *minted) {
	form := url.Values{"grant_type": {"client_credentials"}}.Encode()
	pace := time.NewTicker(5 * time.Millisecond) // continuous, but leaving the machine's cores to others
	defer pace.Stop()
	for ctx.Err() == nil {
		<-pace.C
		req, _ := http.NewRequestWithContext(ctx, "POST", g.URL+"/oauth2/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				m.mu.Lock()
				m.failures = append(m.failures, "token request: "+err.Error())
				m.mu.Unlock()
			}
			return
		}
		var body struct {
			AccessToken string `json:"access_token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		tok, verr := jwt.Parse(body.AccessToken, kf.Keyfunc, jwt.WithValidMethods([]string{"EdDSA"}))
		m.mu.Lock()
		switch {
		case err != nil || resp.StatusCode != http.StatusOK:
			m.failures = append(m.failures, fmt.Sprintf("token endpoint: %d %v", resp.StatusCode, err))
		case verr != nil:
			m.failures = append(m.failures, fmt.Sprintf("keyfunc refused a token of %v: %v", tok.Header["kid"], verr))
		default:
			kid, _ := tok.Header["kid"].(string)
			m.byKID[kid]++
		}
		m.mu.Unlock()
	}
}

// The case: an upstream verifying tokens itself with keyfunc/v3
// (the JWKS client for golang-jwt), refreshing its cached JWKS exactly when
// Cache-Control says it expires and never on an unknown kid (so nothing but
// pre-publication can save it), verifies every token minted back to back
// across two rotations through the admin API, the second made as soon as
// the first key signs. On the shipped quickstart (SQLite) and PostgreSQL
// files with key_prepublish 6s; each rotation answers a pending key and the
// JWKS lets clients cache it for less than the delay. (With 3s, a verifier
// refreshing every second had to complete a refresh within two seconds of
// a rotation: a stall of the busy test machine could make it miss.)
func TestKeyRotationWithCachingVerifier(t *testing.T) {
	const prepublish = 6 * time.Second
	for _, tc := range []struct{ file, driver string }{
		{"quickstart.Caddyfile", store.SQLite},
		{"postgres.Caddyfile", store.Postgres},
	} {
		t.Run(tc.driver, func(t *testing.T) {
			g := startGateway(t, withKeyPrepublish(t, tc.file, prepublish.String()), tc.driver)
			adminTok := bootstrapAdmin(t, g, "/oauth2/token")
			id, secret := createClient(t, g, adminTok, map[string]any{"name": "self-verifying upstream", "scopes": []string{"demo.read"}})

			jwksURL := g.URL + "/.well-known/jwks.json"
			resp, err := http.Get(jwksURL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			m := regexp.MustCompile(`max-age=(\d+)`).FindStringSubmatch(resp.Header.Get("Cache-Control"))
			if m == nil {
				t.Fatalf("JWKS Cache-Control %q has no max-age", resp.Header.Get("Cache-Control"))
			}
			seconds, _ := strconv.Atoi(m[1])
			maxAge := time.Duration(seconds) * time.Second
			if maxAge <= 0 || maxAge >= prepublish {
				t.Fatalf("JWKS max-age %s: want more than 0 and less than key_prepublish %s", maxAge, prepublish)
			}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{jwksURL}, keyfunc.Override{
				RefreshInterval:   maxAge,
				RefreshUnknownKID: rate.NewLimiter(0, 0), // refuses every refresh
			})
			if err != nil {
				t.Fatal(err)
			}
			seen := &minted{byKID: map[string]int{}}
			var wg sync.WaitGroup
			wg.Go(func() { mintAndVerify(ctx, g, id, secret, kf, seen) })
			stop := func() {
				cancel()
				wg.Wait()
			}
			defer stop()

			first := signingKID(t, g, adminTok)
			waitSigning(t, seen, first, time.Now().Add(10*time.Second))
			for i := range 2 {
				status, out, _ := call(t, "POST", g.URL+"/admin/keys/rotate", adminTok, nil)
				kid, _ := out["kid"].(string)
				at, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(out["activates_at"]))
				if status != http.StatusOK || kid == "" || out["state"] != "pending" || at.IsZero() {
					t.Fatalf("rotation %d: %d %v", i+1, status, out)
				}
				waitSigning(t, seen, kid, at.Add(10*time.Second))
			}
			stop()

			seen.mu.Lock()
			defer seen.mu.Unlock()
			if len(seen.failures) > 0 {
				t.Fatalf("%d tokens failed across the rotations (signed: %v); first: %s", len(seen.failures), seen.byKID, seen.failures[0])
			}
			if len(seen.byKID) != 3 || seen.byKID[first] == 0 {
				t.Fatalf("tokens by kid %v: want three keys, %s first", seen.byKID, first)
			}
			t.Logf("tokens verified by kid: %v", seen.byKID)
		})
	}
}

// signingKID asks GET /admin/keys which key signs.
func signingKID(t *testing.T, g *gateway, adminTok string) string {
	t.Helper()
	status, out, _ := call(t, "GET", g.URL+"/admin/keys", adminTok, nil)
	items, _ := out["items"].([]any)
	for _, it := range items {
		if k, _ := it.(map[string]any); k["state"] == "signing" {
			return k["kid"].(string)
		}
	}
	t.Fatalf("GET /admin/keys: %d %v has no signing key", status, out)
	return ""
}

// waitSigning waits until the minter has had a token signed by kid, failing
// at deadline.
func waitSigning(t *testing.T, seen *minted, kid string, deadline time.Time) {
	t.Helper()
	for seen.count(kid) == 0 {
		if time.Now().After(deadline) {
			seen.mu.Lock()
			defer seen.mu.Unlock()
			t.Fatalf("no token signed by %s by %s (tokens by kid %v, %d failures)", kid, deadline.Format(time.RFC3339), seen.byKID, len(seen.failures))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
