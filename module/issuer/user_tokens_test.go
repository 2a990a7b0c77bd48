package issuer

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// user_tokens every_client (Nitro: a user id in the request makes a
// 3-legged token): a client without allow_user_tokens gets a 3-legged token
// for a user of its tenant who is not an admin; naming an admin, or asking
// with a client that holds an admin scope, is unauthorized_client; unknown
// users and users of another tenant stay invalid_grant; a client with
// allow_user_tokens still names admins too. The default endpoint is
// unchanged: such a client is refused. An unknown value is a config error.
func TestUserTokensEveryClient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.tenant("other")
		alice := f.user(store.DefaultTenantID, "alice", false)
		boss := &store.User{ID: store.NewID(), TenantID: store.DefaultTenantID, Username: "boss", Admin: true}
		if err := f.app.Store().CreateUser(context.Background(), boss, tester); err != nil {
			t.Fatal(err)
		}
		mallory := f.user("other", "mallory", false)
		every := f.endpoint(&TokenEndpoint{UserTokens: UserTokensEveryClient})

		plain, plainSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read", "user.only"}})
		for _, kv := range [][]string{{"user_id", alice.ID}, {"userId", "alice"}} {
			_, claims := f.issue(t, every, plain.ID, plainSecret, kv...)
			if claims.Subject != alice.ID || claims.Legs != 3 || claims.ClientID != plain.ID || !claims.PlainUser {
				t.Errorf("every_client %v: sub %q legs %d client %q, want alice's 3-legged token", kv, claims.Subject, claims.Legs, claims.ClientID)
			}
		}
		if _, claims := f.issue(t, every, plain.ID, plainSecret); claims.Legs != 2 || claims.Subject != plain.ID {
			t.Errorf("every_client without a user: legs %d sub %q, want the client's 2-legged token", claims.Legs, claims.Subject)
		}
		res := f.refuse(t, every, withBasic(formRequest(ccForm("user_id", boss.ID)), plain.ID, plainSecret), http.StatusBadRequest, oauth.UnauthorizedClient)
		if !strings.Contains(res.str("error_description"), "allow_user_tokens") {
			t.Errorf("naming an admin: description %q, want it to name allow_user_tokens", res.str("error_description"))
		}
		for _, user := range []string{"nobody", mallory.ID} { // unknown; another tenant's
			f.refuse(t, every, withBasic(formRequest(ccForm("user_id", user)), plain.ID, plainSecret), http.StatusBadRequest, oauth.InvalidGrant)
		}

		admin, adminSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read", scope.TenantAdmin}})
		res = f.refuse(t, every, withBasic(formRequest(ccForm("user_id", alice.ID)), admin.ID, adminSecret), http.StatusBadRequest, oauth.UnauthorizedClient)
		if !strings.Contains(res.str("error_description"), "admin scope") {
			t.Errorf("admin-scoped client: description %q", res.str("error_description"))
		}

		allowed, allowedSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, AllowUserTokens: true})
		if _, claims := f.issue(t, every, allowed.ID, allowedSecret, "user_id", boss.ID); claims.Subject != boss.ID || claims.Legs != 3 {
			t.Errorf("allow_user_tokens naming an admin: sub %q legs %d", claims.Subject, claims.Legs)
		}

		// The default endpoint: only allow_user_tokens clients name users.
		f.refuse(t, f.ep, withBasic(formRequest(ccForm("user_id", alice.ID)), plain.ID, plainSecret), http.StatusBadRequest, oauth.UnauthorizedClient)
		if err := (&TokenEndpoint{UserTokens: "everyone"}).Validate(); err == nil || !strings.Contains(err.Error(), "every_client") {
			t.Errorf("user_tokens everyone: %v, want an error naming the values", err)
		}
	})
}

// A user named under another spelling of user_id (userid, UserID, user-id,
// USER_ID) is invalid_request naming the parameter, not a silent 2-legged
// token (the seeds red team got Nitro's tenant-wide global scope that way);
// an empty one, and unrelated parameters of the same length, change
// nothing; a client connecting as a fixed user is unaffected.
func TestMisspeltUserIDIsRefused(t *testing.T) {
	f := newFixture(t, store.SQLite)
	alice := f.user(store.DefaultTenantID, "alice", false)
	every := f.endpoint(&TokenEndpoint{UserTokens: UserTokensEveryClient})
	plain, plainSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
	for _, name := range []string{"userid", "UserID", "user-id", "USER_ID", "User.Id", "user id"} {
		res := f.refuse(t, every, withBasic(formRequest(ccForm(name, "alice")), plain.ID, plainSecret), http.StatusBadRequest, oauth.InvalidRequest)
		if !strings.Contains(res.str("error_description"), name) || !strings.Contains(res.str("error_description"), "user_id") {
			t.Errorf("%s: description %q, want it to name %s and user_id", name, res.str("error_description"), name)
		}
	}
	for _, kv := range [][]string{{"userid", ""}, {"audience", "x"}, {"username", "alice"}} {
		if _, claims := f.issue(t, every, plain.ID, plainSecret, kv...); claims.Legs != 2 {
			t.Errorf("%v: legs %d, want a 2-legged token", kv, claims.Legs)
		}
	}
	fixed, fixedSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, ConnectAsUserID: &alice.ID})
	if _, claims := f.issue(t, every, fixed.ID, fixedSecret, "userid", "bob"); claims.Subject != alice.ID || claims.Legs != 3 {
		t.Errorf("connect-as client with userid: sub %q legs %d, want alice's 3-legged token", claims.Subject, claims.Legs)
	}
}
