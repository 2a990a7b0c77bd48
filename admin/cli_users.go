package admin

import (
	"encoding/json"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/scopegate/scopegate/module/app"
)

// userCreateFields are the members of POST /users (newUserBody) but the
// password, which comes from --password-stdin.
var userCreateFields = []bodyField{
	{"username", "username", "Username, unique in its tenant (required)", textField},
	{"display-name", "display_name", "Display name", textField},
	{"email", "email", "Email address", textField},
	{"tenant", "tenant_id", "Tenant (default: default)", textField},
	{"admin", "admin", "A tenant admin of its tenant", boolField},
	{"super-admin", "super_admin", "A super admin (default tenant only; implies --admin)", boolField},
}

// userPatchFields are the members of PATCH /users/{id} (userPatchBody) but
// the password and disabled, which have their own flags and commands.
var userPatchFields = []bodyField{
	{"display-name", "display_name", "Display name", textField},
	{"email", "email", "Email address", textField},
	{"admin", "admin", "A tenant admin of its tenant (--admin=false also ends super admin)", boolField},
	{"super-admin", "super_admin", "A super admin (default tenant only)", boolField},
}

func userCommands() *cobra.Command {
	create := cliCommand("create", "Creates a user", func(s *session, _ []string) error {
		body := bodyOf(s.cmd, userCreateFields)
		pw, ok, err := readPassword(s.cmd)
		if err != nil {
			return err
		}
		if ok {
			body["password"] = pw
		}
		return s.userAction(s.h.createUser, http.MethodPost, "", body)
	})
	addBodyFields(create, userCreateFields)
	passwordFlags(create)

	update := cliCommand("update <user-id>", "Changes the fields given as flags, as PATCH /users/{id}", func(s *session, args []string) error {
		body := bodyOf(s.cmd, userPatchFields)
		pw, ok, err := readPassword(s.cmd)
		if err != nil {
			return err
		}
		clear, _ := s.cmd.Flags().GetBool("no-password")
		switch {
		case ok && clear:
			return app.Usagef("--password-stdin and --no-password contradict each other")
		case ok:
			body["password"] = pw
		case clear:
			body["password"] = "" // the API's way to end password sign-in
		}
		return s.userAction(s.h.patchUser, http.MethodPatch, args[0], body)
	})
	addBodyFields(update, userPatchFields)
	passwordFlags(update)
	update.Flags().Bool("no-password", false, "Remove the password: no password sign-in")

	list := pageFlags(cliCommand("list", "Lists users", func(s *session, _ []string) error {
		raw, err := s.call(s.h.listUsers, http.MethodGet, listQuery(s.cmd), nil)
		if err != nil {
			return err
		}
		return s.show(raw, func(raw []byte) error {
			var l list[userView]
			if err := json.Unmarshal(raw, &l); err != nil {
				return err
			}
			rows := make([][]any, 0, len(l.Items))
			for _, u := range l.Items {
				rows = append(rows, []any{u.ID, u.Username, u.TenantID, userLevel(&u), userStatus(&u)})
			}
			return s.table([]string{"ID", "USERNAME", "TENANT", "LEVEL", "STATUS"}, rows, l.Total, l.Offset)
		})
	}), true)

	return cliGroup("user", "Manages users as the admin API does",
		create, update, list,
		cliCommand("show <user-id>", "Shows a user", func(s *session, args []string) error {
			return s.userAction(s.h.getUser, http.MethodGet, args[0], nil)
		}),
		cliCommand("disable <user-id>", "Disables a user: no sign-in, and its tokens stop working", func(s *session, args []string) error {
			return s.userAction(s.h.patchUser, http.MethodPatch, args[0], map[string]any{"disabled": true})
		}),
		cliCommand("restore <user-id>", "Enables a disabled user again", func(s *session, args []string) error {
			return s.userAction(s.h.patchUser, http.MethodPatch, args[0], map[string]any{"disabled": false})
		}),
	)
}

// userAction runs a route on a user (id "" for none) and shows the user
// it answers.
func (s *session) userAction(fn routeFunc, method, id string, body any) error {
	return showAnswer(s, fn, method, id, body, func(u *userView) []any {
		return []any{"id", u.ID, "username", u.Username, "tenant_id", u.TenantID, "display_name", u.DisplayName,
			"email", u.Email, "level", userLevel(u), "status", userStatus(u), "created_at", u.CreatedAt, "updated_at", u.UpdatedAt}
	})
}

func userLevel(u *userView) string {
	switch {
	case u.SuperAdmin:
		return "super admin"
	case u.Admin:
		return "tenant admin"
	}
	return "user"
}

func userStatus(u *userView) string {
	if u.Disabled {
		return "disabled"
	}
	return "active"
}
