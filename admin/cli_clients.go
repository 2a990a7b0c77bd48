package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scopegate/scopegate/module/app"
)

// clientFields are the members of POST and PATCH /clients (clientBody).
var clientFields = []bodyField{
	{"name", "name", "Name, unique in its tenant", textField},
	{"scope", "scopes", "Scopes it may ask for", wordsField},
	{"default-scope", "default_scopes", "Scopes a token gets when it asks for none (on create: every --scope)", wordsField},
	{"auth-method", "auth_method", `"api_key" (client_credentials; the default) or "user" (signs users in)`, textField},
	{"token-lifetime-minutes", "token_lifetime_minutes", "Lifetime of its tokens (0: the app's token_lifetime)", intField},
	{"max-minutes-per-day", "max_minutes_per_day", "Token minutes it may be issued per day (0: no limit)", intField},
	{"redirect-uri", "redirect_uris", "Redirect URI", listField},
	{"tenant", "tenant_id", "Tenant (default: default)", textField},
	{"connect-as-user-id", "connect_as_user_id", `User (id or username) its tokens are always bound to ("" clears it)`, textField},
	{"allow-impersonation", "allow_impersonation", "May act as other users of its tenant", boolField},
	{"allow-user-tokens", "allow_user_tokens", "May ask for tokens bound to a user (user_id)", boolField},
	{"implicit-grant", "implicit_grant", "May use the implicit grant (on unless --implicit-grant=false)", boolField},
	{"public", "public", "Public: no usable secret (auth_method user only)", boolField},
}

func clientCommands() *cobra.Command {
	create := cliCommand("create", "Creates a client and prints its secret, once", func(s *session, _ []string) error {
		raw, err := s.call(s.h.createClient, http.MethodPost, "", bodyOf(s.cmd, clientFields))
		if err != nil {
			return err
		}
		return s.showClient(raw, "The client secret is shown only this once: store it now.")
	})
	addBodyFields(create, clientFields)

	update := cliCommand("update <client-id>", "Changes the settings given as flags, as PATCH /clients/{id}", func(s *session, args []string) error {
		raw, err := s.call(s.h.patchClient, http.MethodPatch, "", bodyOf(s.cmd, clientFields), "id", args[0])
		if err != nil {
			return err
		}
		return s.showClient(raw, "")
	})
	addBodyFields(update, clientFields)

	list := pageFlags(cliCommand("list", "Lists clients", func(s *session, _ []string) error {
		raw, err := s.call(s.h.listClients, http.MethodGet, listQuery(s.cmd), nil)
		if err != nil {
			return err
		}
		return s.show(raw, func(raw []byte) error {
			var l list[clientView]
			if err := json.Unmarshal(raw, &l); err != nil {
				return err
			}
			rows := make([][]any, 0, len(l.Items))
			for _, c := range l.Items {
				rows = append(rows, []any{c.ClientID, c.Name, c.TenantID, c.AuthMethod, c.Status, c.Scopes})
			}
			return s.table([]string{"CLIENT_ID", "NAME", "TENANT", "AUTH_METHOD", "STATUS", "SCOPES"}, rows, l.Total, l.Offset)
		})
	}), true)

	rotate := cliCommand("rotate <client-id>", "Gives a client a new secret and prints it, once", func(s *session, args []string) error {
		body := map[string]any{}
		if s.cmd.Flags().Changed("grace") {
			grace, _ := s.cmd.Flags().GetDuration("grace")
			if grace < 0 {
				return app.Usagef("--grace must not be negative")
			}
			// The API counts whole seconds: 999ms would end the old
			// secret at once, the opposite of what was asked.
			if grace%time.Second != 0 {
				return app.Usagef("--grace counts whole seconds (90s, 1h); %s is not", grace)
			}
			body["grace_seconds"] = int64(grace / time.Second)
		}
		raw, err := s.call(s.h.rotateClient, http.MethodPost, "", body, "id", args[0])
		if err != nil {
			return err
		}
		return s.show(raw, func(raw []byte) error {
			var v rotateView
			if err := json.Unmarshal(raw, &v); err != nil {
				return err
			}
			until := "now (it stopped working)"
			if v.PreviousSecretValidUntil != nil {
				until = text(v.PreviousSecretValidUntil)
			}
			if err := s.fields("client_id", v.ClientID, "client_secret", v.ClientSecret, "previous_secret_valid_until", until); err != nil {
				return err
			}
			s.note("The new secret is shown only this once: store it now.")
			return nil
		})
	})
	rotate.Flags().Duration("grace", 0, "How long the old secret keeps working, e.g. 1h; 0 ends it at once (default: the app's secret_grace)")

	return cliGroup("client", "Manages clients as the admin API does",
		create, update, list, rotate,
		cliCommand("show <client-id>", "Shows a client (its secret masked)", func(s *session, args []string) error {
			return s.clientAction(s.h.getClient, http.MethodGet, args[0])
		}),
		cliCommand("disable <client-id>", "Disables a client: its tokens stop working at once", func(s *session, args []string) error {
			return s.clientAction(s.h.disableClient, http.MethodPost, args[0])
		}),
		cliCommand("restore <client-id>", "Enables a disabled client again", func(s *session, args []string) error {
			return s.clientAction(s.h.restoreClient, http.MethodPost, args[0])
		}),
		cliCommand("revoke-tokens <client-id>", "Ends every token the client holds (its access tokens issued until now and its refresh tokens); it stays active and may ask for new ones", func(s *session, args []string) error {
			return s.clientAction(s.h.revokeClientTokens, http.MethodPost, args[0])
		}),
		cliCommand("delete <client-id>", "Deletes a client", func(s *session, args []string) error {
			if _, err := s.call(s.h.deleteClient, http.MethodDelete, "", nil, "id", args[0]); err != nil {
				return err
			}
			return s.show([]byte(`{"client_id":`+jsonString(args[0])+`,"deleted":true}`), func([]byte) error {
				return s.fields("deleted client", args[0])
			})
		}),
	)
}

// clientAction runs a route on one client and shows the client it answers.
func (s *session) clientAction(fn routeFunc, method, id string) error {
	raw, err := s.call(fn, method, "", nil, "id", id)
	if err != nil {
		return err
	}
	return s.showClient(raw, "")
}

// showClient prints a client; note goes to stderr after it.
func (s *session) showClient(raw []byte, note string) error {
	var kind struct {
		Public bool `json:"public"`
	}
	_ = json.Unmarshal(raw, &kind) // a public client is shown no secret (show reports bad JSON)
	err := s.show(raw, func(raw []byte) error {
		var c clientView
		if err := json.Unmarshal(raw, &c); err != nil {
			return err
		}
		return s.fields(
			"client_id", c.ClientID, "client_secret", c.ClientSecret, "name", c.Name, "tenant_id", c.TenantID,
			"status", c.Status, "auth_method", c.AuthMethod, "public", c.Public, "scopes", c.Scopes,
			"default_scopes", c.DefaultScopes, "redirect_uris", c.RedirectURIs,
			"token_lifetime_minutes", c.TokenLifetimeMinutes, "max_minutes_per_day", c.MaxMinutesPerDay,
			"allow_user_tokens", c.AllowUserTokens, "connect_as_user_id", c.ConnectAsUserID,
			"allow_impersonation", c.AllowImpersonation, "implicit_grant", c.ImplicitGrant,
			"grant_types", grantTypesText(c.GrantTypes), "tokens_revoked_at", c.TokensRevokedAt,
			"owner", c.Owner, "created_at", c.CreatedAt, "updated_at", c.UpdatedAt,
		)
	})
	if err == nil && note != "" && !kind.Public {
		s.note("%s", note)
	}
	return err
}

// grantTypesText shows a client's grant_types: none listed means every
// grant its kind allows, not none at all.
func grantTypesText(list []string) string {
	if len(list) == 0 {
		return "(all its kind allows)"
	}
	return strings.Join(list, " ")
}

// jsonString is s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
