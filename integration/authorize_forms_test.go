package integration

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// formBrowser walks the authorize pages over plain HTTP the way a browser
// without JavaScript does: it keeps cookies, stops at redirects (they are
// answers to check), and submits a page's form with the hidden fields the
// page carries, the button's action and what the user types, from the
// page's own origin.
type formBrowser struct {
	t      *testing.T
	c      *http.Client
	origin string
}

func newFormBrowser(t *testing.T, g *gateway) *formBrowser {
	return &formBrowser{t: t, c: goBrowser(t), origin: g.URL}
}

// authPage is one answer of the authorize endpoint.
type authPage struct {
	URL    string
	Status int
	Body   string
	Header http.Header
}

// open GETs rawURL exactly as given (a link pasted into the address bar),
// with the Fetch Metadata a browser sends for it to a loopback or https
// origin.
func (b *formBrowser) open(rawURL string) authPage {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Site", "none")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Sec-Fetch-Dest", "document")
	req.Header.Set("Sec-Fetch-User", "?1")
	return b.do(req)
}

var (
	formTag     = regexp.MustCompile(`(?s)<form[^>]*\baction="([^"]*)"[^>]*>(.*?)</form>`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// submit posts the form of p holding the button with this action ("login",
// "approve", "deny", "logout"; the sign-in form carries its action as a
// hidden field), adding typed fields.
func (b *formBrowser) submit(p authPage, action string, typed url.Values) authPage {
	b.t.Helper()
	for _, m := range formTag.FindAllStringSubmatch(p.Body, -1) {
		inner := m[2]
		if !strings.Contains(inner, `value="`+action+`"`) {
			continue
		}
		form := url.Values{}
		for _, h := range hiddenInput.FindAllStringSubmatch(inner, -1) {
			form.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
		}
		form.Set("action", action)
		for k, v := range typed {
			form[k] = v
		}
		base, _ := url.Parse(p.URL)
		target, err := base.Parse(html.UnescapeString(m[1]))
		if err != nil {
			b.t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, target.String(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.origin)
		return b.do(req)
	}
	b.t.Fatalf("no form with action %q on the page (%d): %s", action, p.Status, p.Body)
	return authPage{}
}

// signIn submits the sign-in form of p.
func (b *formBrowser) signIn(p authPage, username, password string) authPage {
	b.t.Helper()
	return b.submit(p, "login", url.Values{"username": {username}, "password": {password}})
}

func (b *formBrowser) do(req *http.Request) authPage {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return authPage{URL: req.URL.String(), Status: resp.StatusCode, Body: string(raw), Header: resp.Header}
}

// textOf returns the text of the element with the given id (no nesting).
func textOf(body, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// oobToken reads the token from the out-of-band page.
func oobToken(t *testing.T, p authPage) string {
	t.Helper()
	tok := ""
	if m := regexp.MustCompile(`id="token" readonly value="([^"]*)"`).FindStringSubmatch(p.Body); m != nil {
		tok = html.UnescapeString(m[1])
	}
	if p.Status != http.StatusOK || tok == "" {
		t.Fatalf("no token on the out-of-band page (%d): %s", p.Status, p.Body)
	}
	return tok
}
