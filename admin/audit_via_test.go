package admin

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/token"
)

// The audit log says what each principal came through, so a client that
// speaks for a user cannot pass as the user: a change made with a user's
// 3-legged token names the user as actor and the token's client as via; a
// token acting for its subject adds " act " and the actor's client; a
// 2-legged token's via is its own client; a console session's is
// "console". GET /audit shows via, and so does the console's audit page,
// by client name where the client exists (its id as the title).
func TestAuditVia(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		root := e.superUser("root")
		userTok, userClient := e.userToken(root, scope.Admin)
		acting := e.signWith(userClient, store.DefaultTenantID, root.ID, &token.Actor{Subject: "sg_actor", ClientID: "sg_actor"}, scope.Admin)

		byUser := e.create(userTok, map[string]any{"name": "by-user", "scopes": []string{"demo.read"}})
		byActor := e.create(acting, map[string]any{"name": "by-actor", "scopes": []string{"demo.read"}})
		byClient := e.create(e.super, map[string]any{"name": "by-client", "scopes": []string{"demo.read"}})
		b := e.browser()
		b.signIn("", "root")
		b.post("/console/apps/"+byClient.ClientID+"/disable", nil)

		want := map[string]struct{ action, actor, via string }{
			byUser.ClientID:   {"client.create", root.ID, userClient},
			byActor.ClientID:  {"client.create", root.ID, userClient + " act sg_actor"},
			byClient.ClientID: {"client.disable", root.ID, consoleVia},
		}
		all := decode[list[auditView]](t, e.want(e.do("GET", "/audit?limit=500", e.super, nil), http.StatusOK))
		seen := 0
		for _, a := range all.Items {
			w, ok := want[a.Target]
			if !ok || a.Action != w.action {
				continue
			}
			seen++
			if a.Actor != w.actor || a.Via != w.via {
				t.Errorf("%s of %s: actor %q via %q, want actor %q via %q", a.Action, a.Target, a.Actor, a.Via, w.actor, w.via)
			}
		}
		if seen != len(want) {
			t.Fatalf("found %d of the %d audit rows in %+v", seen, len(want), all.Items)
		}
		rows, _, err := e.app.Store().ListAudit(ctx, "", store.Page{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		creates := 0
		for _, a := range rows {
			if a.Target == byClient.ClientID && a.Action == "client.create" {
				creates++
				if a.Actor != e.superID || a.Via != e.superID {
					t.Errorf("2-legged create: actor %q via %q, want both %q", a.Actor, a.Via, e.superID)
				}
			}
		}
		if creates != 1 {
			t.Fatalf("%d audit rows of the 2-legged create, want 1", creates)
		}

		body := b.page(b.get("/console/audit"), http.StatusOK, "<th>Via</th>")
		for _, cell := range []string{
			`<td data-label="Via"><span class="mono">` + consoleVia + `</span></td>`,
			`<td data-label="Via"><span title="` + userClient + `">own-` + userClient + `</span></td>`,
			`<td data-label="Via"><span title="` + userClient + `">own-` + userClient + `</span> act <span class="mono">sg_actor</span></td>`,
		} {
			if !strings.Contains(body, cell) {
				t.Errorf("the console's audit page lacks %s", cell)
			}
		}
	})
}
