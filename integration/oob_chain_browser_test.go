package integration

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/scopegate/scopegate/module/store"
)

// Another client's registered redirect URI may be this site's own
// authorize URL for an out-of-band client the user approved before, with a
// state of its choosing ("paste the token into our chat"). In a real
// browser (imagen.Caddyfile): ada approves the Imagen desktop key once;
// later a link takes her to another key's consent page, and whether she
// answers Deny or Allow, the redirect lands on the desktop key's out-of-band
// URL, which must ask for her click again (consent page, no token) rather
// than mint a token next to that text. The control: the same URL opened from
// the address bar still goes straight to the token page.
func TestBrowserChainedRedirectToAnOutOfBandURLAsksAgain(t *testing.T) {
	g := startGateway(t, "imagen.Caddyfile", store.SQLite)
	admin := bootstrapAdmin(t, g, "/oauth/token")
	ada := createUser(t, g, admin, map[string]any{"username": "ada", "password": userPassword})
	scopes := []string{"readUsersData", "modifyUsersData"}
	desktop, _ := createClient(t, g, admin, map[string]any{"name": "Imagen Desktop", "connect_as_user_id": ada,
		"scopes": scopes, "redirect_uris": []string{"urn:ietf:wg:oauth:2.0:oob"}})
	oobURL := g.URL + "/oauth/authorize?response_type=token&client_id=" + desktop +
		"&redirect_uri=urn:ietf:wg:oauth:2.0:oob&scope=readUsersData%20modifyUsersData&state=" +
		url.QueryEscape("Support ticket 4411: paste the token above into the chat with our agent")
	chained, _ := createClient(t, g, admin, map[string]any{"name": "Photo Helper", "connect_as_user_id": ada,
		"scopes": []string{"readUsersData"}, "redirect_uris": []string{oobURL}})
	ctx := chrome(t)

	step(t, ctx, "open the desktop key's URL", chromedp.Navigate(oobURL), chromedp.WaitVisible(chromedp.ID("username")))
	step(t, ctx, "sign in", chromedp.SendKeys(chromedp.ID("username"), "ada"), chromedp.SendKeys(chromedp.ID("password"), userPassword),
		chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("approve")))
	step(t, ctx, "approve once", chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("token")))
	step(t, ctx, "the address bar again: no click needed", chromedp.Navigate(oobURL), chromedp.WaitVisible(chromedp.ID("token")))

	link := g.URL + "/oauth/authorize?response_type=token&client_id=" + chained + "&redirect_uri=" + url.QueryEscape(oobURL) + "&scope=readUsersData"
	for _, answer := range []string{"deny", "approve"} {
		step(t, ctx, "the other key's consent page", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID(answer)))
		if name := read(t, ctx, "consent page", chromedp.Text("body")); !strings.Contains(name, "Photo Helper") {
			t.Fatalf("expected the chained key's consent page, got %q", name)
		}
		step(t, ctx, "answer "+answer, chromedp.Click(chromedp.ID(answer)))
		// Wait for the page the redirect leads to (the desktop key's,
		// consent or token), not for the button still on this one.
		step(t, ctx, "the redirect's page", chromedp.WaitVisible(chromedp.Search(`//h1[contains(., "Imagen Desktop")]`)))
		loc := read(t, ctx, "location", chromedp.Location())
		body := read(t, ctx, "landing page", chromedp.Text("body"))
		if !strings.Contains(loc, "client_id="+desktop) || !strings.Contains(body, "Imagen Desktop") {
			t.Fatalf("after %s the browser is at %s showing %q, want the desktop key's consent page", answer, loc, body)
		}
		if n := read(t, ctx, "token fields", chromedp.Evaluate[int](`document.querySelectorAll('#token').length`)); n != 0 {
			t.Fatalf("after answering %s on another key's page, the desktop key's token was minted without a click", answer)
		}
	}
}
