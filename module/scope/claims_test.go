package scope

import (
	"strings"
	"testing"
)

// A scope may not require a claim named like a member of the token or of
// its introspection answer (the client would choose the value a resource
// server reads as "tenant" or "sub"), like a parameter that carries a
// credential (its value would travel in the token and the upstream's
// headers), in any letter case; nor a name that cannot be part of a header
// name, nor two names that share one identity header.
func TestRequiredClaimNamesAreChecked(t *testing.T) {
	refused := map[string][]Scope{
		"tenant":              {{Name: "x", RequiredClaims: []string{"tenant"}}},
		"sub":                 {{Name: "x", RequiredClaims: []string{"sub"}}},
		"aud":                 {{Name: "x", RequiredClaims: []string{"aud"}}},
		"client_id":           {{Name: "x", RequiredClaims: []string{"application_id", "client_id"}}},
		"active in capitals":  {{Name: "x", RequiredClaims: []string{"ACTIVE"}}},
		"scope":               {{Name: "x", RequiredClaims: []string{"scope"}}},
		"client_secret":       {{Name: "x", RequiredClaims: []string{"client_secret"}}},
		"password":            {{Name: "x", RequiredClaims: []string{"Password"}}},
		"refresh_token":       {{Name: "x", RequiredClaims: []string{"refresh_token"}}},
		"code_verifier":       {{Name: "x", RequiredClaims: []string{"code_verifier"}}},
		"userId, Nitro's":     {{Name: "x", RequiredClaims: []string{"userId"}}},
		"client.id":           {{Name: "x", RequiredClaims: []string{"client.id"}}},
		"Grant-Type":          {{Name: "x", RequiredClaims: []string{"Grant-Type"}}},
		"dotted and dashed":   {{Name: "x", RequiredClaims: []string{"app.id", "app_id"}}},
		"space":               {{Name: "x", RequiredClaims: []string{"application id"}}},
		"colon":               {{Name: "x", RequiredClaims: []string{"a:b"}}},
		"empty":               {{Name: "x", RequiredClaims: []string{""}}},
		"too long":            {{Name: "x", RequiredClaims: []string{strings.Repeat("a", 65)}}},
		"one header, 1 scope": {{Name: "x", RequiredClaims: []string{"app_id", "App-Id"}}},
		"one header, 2 scopes": {
			{Name: "x", RequiredClaims: []string{"app_id"}}, {Name: "y", RequiredClaims: []string{"app-id"}},
		},
	}
	for name, scopes := range refused {
		if _, err := NewCatalogue(scopes); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewCatalogue([]Scope{
		{Name: "application.session", RequiredClaims: []string{"application_id", "workflow_id", "redirect_url"}},
		{Name: "other", RequiredClaims: []string{"application_id", "redirect_uri", "tenant_hint", "v1.region"}},
	}); err != nil {
		t.Errorf("the Bits catalogue and a second scope sharing its claim were refused: %v", err)
	}
}

// A scope that implies a restricted one must carry the restriction itself:
// otherwise a token with it is treated as holding the restricted scope
// without the claims a guard's match_claim binds, or by a client the
// restricted scope's clients list leaves out.
func TestImplyingARestrictedScope(t *testing.T) {
	session := Scope{Name: "application.session", RequiredClaims: []string{"application_id", "workflow_id"}}
	batch := Scope{Name: "batch_import", Clients: []string{"batch-import"}}
	refused := map[string][]Scope{
		"implies a scope with claims": {{Name: "application", Implies: []string{session.Name}}, session},
		"requires only some claims": {
			{Name: "application", Implies: []string{session.Name}, RequiredClaims: []string{"application_id"}}, session,
		},
		"through another scope": {
			{Name: "all", Implies: []string{"middle"}}, {Name: "middle", Implies: []string{session.Name},
				RequiredClaims: []string{"application_id", "workflow_id"}}, session,
		},
		"implies a scope for named clients": {{Name: "bulk", Implies: []string{batch.Name}}, batch},
		"for another client as well": {
			{Name: "bulk", Implies: []string{batch.Name}, Clients: []string{"batch-import", "someone"}}, batch,
		},
	}
	for name, scopes := range refused {
		if _, err := NewCatalogue(scopes); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	accepted := map[string][]Scope{
		"same claims and more": {
			{Name: "application", Implies: []string{session.Name}, RequiredClaims: []string{"workflow_id", "application_id", "step"}}, session,
		},
		"same or fewer clients": {{Name: "bulk", Implies: []string{batch.Name}, Clients: []string{"batch-import"}}, batch},
		"implied by itself in a cycle": {
			{Name: "a", Implies: []string{"b"}, RequiredClaims: []string{"application_id"}},
			{Name: "b", Implies: []string{"a"}, RequiredClaims: []string{"application_id"}},
		},
		"restricted scope implies a plain one": {
			{Name: "x", Implies: []string{"y"}, RequiredClaims: []string{"application_id"}, Clients: []string{"c"}}, {Name: "y"},
		},
	}
	for name, scopes := range accepted {
		if _, err := NewCatalogue(scopes); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
}
