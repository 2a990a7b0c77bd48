package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/scopegate/scopegate/module/app"
)

// A hostile client minting and revoking its own tokens in a loop, on the
// shipped quickstart (RFC 7009 at /oauth2/revoke): past the bound of kept
// revocations (store.RevocationsKeptPerClient, lowered to 50 in the running
// gateway so that the loop is short) its older tokens end with a watermark
// instead of a row each. Checked through the guard: every revoked token and
// the client's token from before the loop (never revoked) answer 401
// invalid_token; a token it mints afterwards, and another client's token
// from before the loop, still pass.
func TestRevocationLoopEndsTheClientsOlderTokens(t *testing.T) {
	eachDriverWith(t, "quickstart.Caddyfile", func(t *testing.T, g *gateway) {
		const kept = 50
		running, err := caddy.ActiveContext().App("scopegate")
		if err != nil {
			t.Fatal(err)
		}
		running.(*app.App).Store().SetRevocationsKept(kept)
		admin := bootstrapAdmin(t, g, "/oauth2/token")
		id, secret := createClient(t, g, admin, map[string]any{"name": "looper", "scopes": []string{"demo.read"}})
		otherID, otherSecret := createClient(t, g, admin, map[string]any{"name": "bystander", "scopes": []string{"demo.read"}})
		before := time.Now().Unix()
		early := mustToken(t, g, id, secret, nil)
		bystander := mustToken(t, g, otherID, otherSecret, nil)
		for time.Now().Unix() < before+2 { // the loop's tokens are of a later second than early's
			time.Sleep(50 * time.Millisecond)
		}
		var last string
		for range kept + 1 {
			last = mustToken(t, g, id, secret, nil)
			if status, body := basicForm(t, g, "/oauth2/revoke", id, secret, url.Values{"token": {last}}); status != http.StatusOK {
				t.Fatalf("revoking: %d %v", status, body)
			}
		}
		for what, tok := range map[string]string{"the last token revoked": last, "the token from before the loop": early} {
			status, _, h := call(t, "GET", g.URL+"/api/hello", tok, nil)
			if status != http.StatusUnauthorized || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("%s: %d %q, want 401 invalid_token", what, status, h.Get("WWW-Authenticate"))
			}
		}
		// Past the bound within one second, that second's tokens end too:
		// the next one is minted in a later second.
		for end := time.Now().Unix(); time.Now().Unix() <= end; {
			time.Sleep(50 * time.Millisecond)
		}
		fresh := mustToken(t, g, id, secret, nil)
		for what, tok := range map[string]string{"a token minted after the loop": fresh, "another client's token": bystander} {
			if status, _, _ := call(t, "GET", g.URL+"/api/hello", tok, nil); status != http.StatusOK {
				t.Errorf("%s: %d, want 200", what, status)
			}
		}
	})
}
