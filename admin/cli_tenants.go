package admin

import (
	"encoding/json"
	"net/http"

	"github.com/spf13/cobra"
)

var tenantFields = []bodyField{
	{"id", "id", "Tenant id: letters, digits, '.', '_', '-' (default: a random UUID)", textField},
	{"name", "name", "Name (required)", textField},
}

func tenantCommands() *cobra.Command {
	create := cliCommand("create", "Creates a tenant", func(s *session, _ []string) error {
		return s.tenantAction(s.h.createTenant, http.MethodPost, "", bodyOf(s.cmd, tenantFields))
	})
	addBodyFields(create, tenantFields)

	list := pageFlags(cliCommand("list", "Lists tenants", func(s *session, _ []string) error {
		raw, err := s.call(s.h.listTenants, http.MethodGet, listQuery(s.cmd), nil)
		if err != nil {
			return err
		}
		return s.show(raw, func(raw []byte) error {
			var l list[tenantView]
			if err := json.Unmarshal(raw, &l); err != nil {
				return err
			}
			rows := make([][]any, 0, len(l.Items))
			for _, t := range l.Items {
				rows = append(rows, []any{t.ID, t.Name, t.CreatedAt})
			}
			return s.table([]string{"ID", "NAME", "CREATED_AT"}, rows, l.Total, l.Offset)
		})
	}), false)

	return cliGroup("tenant", "Manages tenants as the admin API does",
		create, list,
		cliCommand("show <tenant-id>", "Shows a tenant", func(s *session, args []string) error {
			return s.tenantAction(s.h.getTenant, http.MethodGet, args[0], nil)
		}),
	)
}

// tenantAction runs a route on a tenant (id "" for none) and shows the
// tenant it answers.
func (s *session) tenantAction(fn routeFunc, method, id string, body any) error {
	return showAnswer(s, fn, method, id, body, func(t *tenantView) []any {
		return []any{"id", t.ID, "name", t.Name, "created_at", t.CreatedAt, "updated_at", t.UpdatedAt}
	})
}
