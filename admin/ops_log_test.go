package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// allText is every logged message and field value, to search for secrets.
func allText(logs *observer.ObservedLogs) string {
	var b strings.Builder
	for _, e := range logs.All() {
		b.WriteString(e.Message)
		for k, v := range e.ContextMap() {
			raw, _ := json.Marshal(v)
			b.WriteString(" " + k + "=" + string(raw))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// A refused console sign-in is logged at info level with the tenant (when it
// exists), the user when one was found, why (unknown_user, wrong_password, not_admin,
// throttled) and the remote address; never the password or the username
// as typed.
func TestConsoleRefusedSignInIsLogged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		core, logs := observer.New(zapcore.DebugLevel)
		e.h.logger = zap.New(core)
		e.h.throttled = app.SampledLogger(e.h.logger)
		root := e.adminUser(store.DefaultTenantID, "root")
		pleb := e.adminUser(store.DefaultTenantID, "pleb")
		pleb.Admin = false
		if err := e.app.Store().UpdateUser(t.Context(), pleb, store.Actor{Principal: "test"}, "user.update"); err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		b.get("/")
		for _, tc := range []struct {
			username, password, reason, userID string
			status                             int
		}{
			{"typed-nobody", "Typed-Pa55-1", "unknown_user", "", http.StatusUnauthorized},
			{"pleb", consolePassword, "not_admin", pleb.ID, http.StatusUnauthorized},
			{"root", "Typed-Pa55-2", "wrong_password", root.ID, http.StatusUnauthorized},
			{"root", "Typed-Pa55-3", "wrong_password", root.ID, http.StatusUnauthorized},
			{"root", "Typed-Pa55-4", "wrong_password", root.ID, http.StatusUnauthorized},
			{"root", "Typed-Pa55-5", "wrong_password", root.ID, http.StatusUnauthorized},
			{"root", "Typed-Pa55-6", "wrong_password", root.ID, http.StatusUnauthorized},
			{"root", "Typed-Pa55-7", "throttled", "", http.StatusTooManyRequests},
		} {
			logs.TakeAll()
			w := b.post("/console/signin", url.Values{"tenant": {""}, "username": {tc.username}, "password": {tc.password}})
			if w.Code != tc.status {
				t.Fatalf("%s: status %d, want %d", tc.reason, w.Code, tc.status)
			}
			entries := logs.FilterMessage("sign-in failed").AllUntimed()
			if len(entries) != 1 || entries[0].Level != zapcore.InfoLevel {
				t.Fatalf("%s: want one info entry, got %v", tc.reason, logs.AllUntimed())
			}
			m := entries[0].ContextMap()
			if m["reason"] != tc.reason || m["page"] != "console" || m["tenant"] != store.DefaultTenantID ||
				m["user_id"] != tc.userID || m["remote_addr"] != remoteIP {
				t.Errorf("logged %v; want reason %q, tenant default, user %q, remote_addr %s", m, tc.reason, tc.userID, remoteIP)
			}
			if text := allText(logs); strings.Contains(text, tc.password) || strings.Contains(text, "typed-nobody") {
				t.Errorf("the password or the typed username is in the log: %s", text)
			}
		}
		// A tenant that does not exist, such as a password typed into the
		// tenant field, is not logged; the refusal still is.
		logs.TakeAll()
		b.post("/console/signin", url.Values{"tenant": {"Typed-Pa55-8"}, "username": {"root"}, "password": {"x"}})
		entries := logs.FilterMessage("sign-in failed").AllUntimed()
		if len(entries) != 1 || entries[0].ContextMap()["tenant"] != "" {
			t.Fatalf("unknown tenant: want one entry with an empty tenant, got %v", logs.AllUntimed())
		}
		if text := allText(logs); strings.Contains(text, "Typed-Pa55-8") {
			t.Errorf("the typed tenant is in the log: %s", text)
		}

		// Throttled sign-ins come as fast as a client sends them (the
		// others are bounded by the throttle): their lines are sampled, at
		// most 100 a second and then one in 100.
		logs.TakeAll()
		const flood = 1000
		started := time.Now()
		counted := 0 // attempts made after the account's wait ran out
		for i := range flood {
			switch w := b.post("/console/signin", url.Values{"tenant": {""}, "username": {"root"}, "password": {fmt.Sprint("x", i)}}); w.Code {
			case http.StatusTooManyRequests:
			case http.StatusUnauthorized:
				// A flood slower than the account's wait (seconds, doubling
				// with each counted attempt) on a busy machine: the attempt
				// is counted, and the next wait is twice as long.
				counted++
			default:
				t.Fatalf("flood: status %d, want 429", w.Code)
			}
		}
		if counted > 5 {
			t.Fatalf("%d of %d flood attempts were not throttled", counted, flood)
		}
		seconds := int(time.Since(started).Seconds()) + 2 // the windows the flood can touch
		if n, most := logs.FilterMessage("sign-in failed").Len(), 100*seconds+flood/100+counted; n == 0 || n > most {
			t.Errorf("%d throttled sign-ins in %d s logged %d lines, want 1 to %d", flood, seconds, n, most)
		} else if most >= flood {
			t.Logf("the flood took %d s: too slow to tell sampling apart", seconds)
		}
	})
}

// Every admin change is logged at info level once it has committed, from
// the audit entry: the action, its target, the actor, what it came through
// (the token's client), the tenant and the remote address; never the
// secret the change made, nor the admin's token.
func TestAdminChangesAreLogged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		core, logs := observer.New(zapcore.DebugLevel)
		e := newEnv(t, driver, func(a *app.App) { a.SetLogger(zap.New(core)) })
		logs.TakeAll()
		w := e.want(e.do("POST", "/clients", e.super, map[string]any{"name": "logged", "scopes": []string{"demo.read"}}), http.StatusCreated)
		created := decode[map[string]any](t, w)
		id, secret := created["client_id"].(string), created["client_secret"].(string)
		rotated, _ := decode[map[string]any](t, e.want(e.do("POST", "/clients/"+id+"/rotate", e.super, nil), http.StatusOK))["client_secret"].(string)
		if rotated == "" {
			t.Fatal("the rotation showed no secret")
		}
		e.want(e.do("POST", "/clients/"+id+"/disable", e.super, nil), http.StatusOK)

		entries := logs.FilterMessage("admin change").AllUntimed()
		var actions []string
		for _, en := range entries {
			m := en.ContextMap()
			actions = append(actions, m["action"].(string))
			if en.Level != zapcore.InfoLevel || m["target"] != id || m["actor"] != e.superID || m["via"] != e.superID ||
				m["tenant"] != store.DefaultTenantID || m["remote_addr"] != remoteIP {
				t.Errorf("logged %v; want target %s, actor and via %s, tenant default, remote_addr %s", m, id, e.superID, remoteIP)
			}
		}
		if strings.Join(actions, " ") != "client.create client.rotate client.disable" {
			t.Errorf("logged actions %v, want client.create, client.rotate, client.disable", actions)
		}
		if text := allText(logs); strings.Contains(text, secret) || strings.Contains(text, rotated) || strings.Contains(text, e.super) {
			t.Errorf("a secret or the admin token is in the log: %s", text)
		}
	})
}

// A request whose caller hung up (its context canceled, so its queries
// fail) is answered 499 and logged at debug level, not as a failed admin
// request: a client closing its sockets on purpose must not fill the error
// log with 500s.
func TestCanceledAdminRequestIsNoError(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		core, logs := observer.New(zapcore.DebugLevel)
		e.h.logger = zap.New(core)
		for range 2 { // the token verified twice: cached, as a busy admin's is
			e.want(e.do("GET", "/audit", e.super, nil), http.StatusOK)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		r := httptest.NewRequestWithContext(ctx, "GET", "/audit", nil)
		r.Header.Set("Authorization", "Bearer "+e.super)
		if w := e.serve(r); w.Code != statusClientClosedRequest {
			t.Fatalf("a request whose caller hung up: %d %s, want 499", w.Code, w.Body)
		}
		if n := logs.FilterLevelExact(zapcore.ErrorLevel).Len(); n != 0 {
			t.Fatalf("%d error lines for a request whose caller hung up: %v", n, logs.All())
		}
		if logs.FilterMessage("admin request: the client closed the request").Len() != 1 {
			t.Fatalf("the hang-up is not logged at debug level: %v", logs.All())
		}
	})
}
