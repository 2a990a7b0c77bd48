package issuer

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

var (
	formRE   = regexp.MustCompile(`(?s)<form[^>]*>.*?</form>`)
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// submit is what a browser sends for the form on body that contains marker:
// its hidden fields in document order, then fields (the inputs the user
// filled in and the button pressed, which come after them on the pages).
func submit(t *testing.T, body, marker string, fields ...string) url.Values {
	t.Helper()
	for _, form := range formRE.FindAllString(body, -1) {
		if !strings.Contains(form, marker) {
			continue
		}
		v := url.Values{}
		for _, m := range hiddenRE.FindAllStringSubmatch(form, -1) {
			v.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
		}
		for i := 0; i+1 < len(fields); i += 2 {
			v.Add(fields[i], fields[i+1])
		}
		return v
	}
	t.Fatalf("no form with %q on the page: %s", marker, body)
	return nil
}

// A crafted link cannot plant the pages' own fields. With &action=approve
// a signed-in victim's Deny still denies (access_denied, nothing
// remembered); with &username=mallory&password=… a victim who signs in as
// ada is signed in as ada. Only the authorization request's parameters
// become hidden fields; unknown ones are dropped.
func TestAuthorizeHiddenFieldInjection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		ada := f.authUser(store.DefaultTenantID, "ada")
		f.authUser(store.DefaultTenantID, "mallory")
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		request := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {appRedirect},
			"state": {"s"}, "scope": {"demo.read"}}
		link := func(kv ...string) url.Values {
			v := clone(request)
			for i := 0; i+1 < len(kv); i += 2 {
				v.Set(kv[i], kv[i+1])
			}
			return v
		}

		t.Run("action=approve", func(t *testing.T) {
			_, b := f.authorize(t)
			page(t, b.login(request, "ada", testPassword), http.StatusOK, `id="user">ada<`)
			consent := page(t, b.get(link("action", "approve")), http.StatusOK, `value="deny"`)
			v := redirected(t, b.post(submit(t, consent, `value="deny"`, "action", "deny")), appRedirect+"?", false)
			if v.Get("error") != "access_denied" || v.Get("code") != "" {
				t.Fatalf("Deny answered %v", v)
			}
			if _, err := f.app.Store().GetConsent(context.Background(), ada.ID, c.ID); err == nil {
				t.Fatal("Deny saved consent")
			}
		})

		t.Run("username=mallory", func(t *testing.T) {
			_, b := f.authorize(t)
			login := page(t, b.get(link("username", "mallory", "password", testPassword)), http.StatusOK, `name="password"`)
			form := submit(t, login, `id="sign-in"`, "username", "ada", "password", "ada's own password")
			page(t, b.post(form), http.StatusUnauthorized, "Wrong username or password.")
			form = submit(t, login, `id="sign-in"`, "username", "ada", "password", testPassword)
			page(t, b.post(form), http.StatusOK, `id="user">ada<`)
		})

		t.Run("only request parameters are hidden", func(t *testing.T) {
			_, b := f.authorize(t)
			crafted := link("username", "mallory", "password", testPassword, "action", "approve", "csrf", "planted", "utm_source", "mail")
			login := page(t, b.get(crafted), http.StatusOK, `name="password"`)
			// The page's own hidden fields are action=login and at most one
			// csrf that is not the planted one; the rest is the request.
			own := map[string]int{}
			seen := 0
			for _, m := range hiddenRE.FindAllStringSubmatch(login, -1) {
				switch name, val := m[1], html.UnescapeString(m[2]); {
				case name == "action" && val == "login", name == "csrf" && val != "planted":
					if own[name]++; own[name] > 1 {
						t.Fatalf("hidden field %s appears twice: %s", name, login)
					}
				case !isAuthParam(name) || val != crafted.Get(name):
					t.Fatalf("hidden field %s=%q carried from the link: %s", name, val, login)
				default:
					seen++
				}
			}
			if seen != len(request) {
				t.Fatalf("%d request parameters carried, want %d: %s", seen, len(request), login)
			}
		})
	})
}

// A post that repeats one of the pages' own fields is refused with a 400
// page, whatever the order: the handler never has to pick one.
func TestAuthorizeRepeatedFormFields(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		_, b := f.authorize(t)
		request := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "scope": {"demo.read"}}
		consent := b.login(request, "ada", testPassword)
		page(t, consent, http.StatusOK, `value="approve"`)
		for _, field := range []string{"action", "csrf", "username", "password"} {
			t.Run(field, func(t *testing.T) {
				form := clone(request)
				form.Set("action", "deny")
				form.Set("csrf", csrfOf(t, consent.Body.String()))
				form.Set("username", "ada")
				form.Set("password", testPassword)
				form[field] = append([]string{"approve"}, form[field]...)
				page(t, b.post(form), http.StatusBadRequest, "repeats the "+field+" field")
			})
		}
	})
}

func isAuthParam(name string) bool {
	for _, p := range authParams {
		if p == name {
			return true
		}
	}
	return false
}

// The claims a requested scope requires are request parameters too: they
// are carried through sign-in and consent and end up in the implicit
// grant's token, while other parameters do not.
func TestAuthorizeCarriesRequiredClaims(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, withSessionScope)
		f.authUser(store.DefaultTenantID, "ada")
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"application.session"}, RedirectURIs: store.Strings{appRedirect}})
		_, b := f.authorize(t)
		params := implicitParams(c.ID, appRedirect, "application.session")
		params.Set("application_id", "app1")
		params.Set("workflow_id", "wf1")
		params.Set("redirect_url", appRedirect)
		params.Set("unrelated", "x")
		login := page(t, b.get(params), http.StatusOK, `name="application_id" value="app1"`, `name="workflow_id" value="wf1"`)
		if strings.Contains(login, `name="unrelated"`) {
			t.Fatalf("an unrelated parameter was carried: %s", login)
		}
		consent := b.post(submit(t, login, `id="sign-in"`, "username", "ada", "password", testPassword))
		page(t, consent, http.StatusOK, `value="approve"`)
		v := redirected(t, b.post(submit(t, consent.Body.String(), `value="approve"`, "action", "approve")), appRedirect+"#", true)
		claims := f.verify(t, v.Get("access_token"))
		if claims.Ext["application_id"] != "app1" || claims.Ext["workflow_id"] != "wf1" || claims.Ext["redirect_url"] != appRedirect || len(claims.Ext) != 3 {
			t.Fatalf("ext claims %v", claims.Ext)
		}
	})
}
