package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/power"
)

// The command line (caddy scopegate client|user|tenant|key …) is the admin
// API for an operator at a shell: each command opens the database the
// config names, runs the API's own route in-process, and prints its answer.
// Its power is a super admin's (power.Grounds.Local): whoever can read the
// config and open its database and master key holds every tenant already,
// and no token or user stands behind it. Every rule of the API still
// applies, and the audit log names it (cliPrincipal via cliVia, from
// "local").

// cliVia is what the audit log says command-line changes came through.
const cliVia = "cli"

// cliPrincipal owns what the command line creates. Client ids start with
// sg_ and user ids are UUIDs, so no token or session is ever this principal.
const cliPrincipal = app.CLIPrincipal

// cliTimeout bounds one command: a database that does not answer must not
// hang a script.
const cliTimeout = time.Minute

func init() {
	app.RegisterSubcommand(func(root *cobra.Command) {
		root.AddCommand(clientCommands(), userCommands(), tenantCommands(), keyCommands(), tokenCommand())
	})
}

// cliGroup is a group of commands on the database: they share --config,
// --adapter and --json.
func cliGroup(use, short string, subs ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{Use: use, Short: short}
	g.PersistentFlags().StringP("config", "c", "", "Configuration file naming the database (required)")
	g.PersistentFlags().StringP("adapter", "a", "", "Name of config adapter")
	g.PersistentFlags().Bool("json", false, "Print the admin API's JSON answer instead of text")
	g.AddCommand(subs...)
	app.Group(g)
	return g
}

// cliCommand is one command that works on the database: it checks that it
// got exactly the positional arguments named in use (e.g. "show <client-id>"),
// opens a session and hands it to run.
func cliCommand(use, short string, run func(s *session, args []string) error) *cobra.Command {
	want := strings.Count(use, "<")
	return &cobra.Command{
		Use: use, Short: short,
		RunE: app.RunE(func(cmd *cobra.Command, args []string) error {
			if len(args) != want {
				return app.Usagef("usage: %s (got %d arguments)", cmd.UseLine(), len(args))
			}
			s, err := openSession(cmd)
			if err != nil {
				return err
			}
			defer s.close()
			return run(s, args)
		}),
	}
}

// session is one command's access to the admin API: the app opened from
// --config, a handler on it and the command line's caller.
type session struct {
	ctx    context.Context
	cancel context.CancelFunc
	cmd    *cobra.Command
	a      *app.App
	h      *Handler
	c      *caller
	json   bool
	out    io.Writer
}

func openSession(cmd *cobra.Command) (*session, error) {
	cfg, _ := cmd.Flags().GetString("config")
	adapter, _ := cmd.Flags().GetString("adapter")
	asJSON, _ := cmd.Flags().GetBool("json")
	if cfg == "" {
		return nil, app.Usagef("--config is required: it names the database and master key")
	}
	a, err := app.AppFromConfigFile(cfg, adapter)
	if err != nil {
		return nil, err
	}
	newFile, created := a.NewSQLiteFile()
	if err := a.OpenStandalone(); err != nil {
		return nil, err
	}
	if created {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: no database was at %s, so this command made an empty one there; if you meant your gateway's, check --config and XDG_DATA_HOME (Caddy's data directory)\n", newFile)
	}
	h := new(Handler)
	if err := h.adoptConfigOptions(a.ConfigJSON()); err != nil {
		a.CloseStandalone()
		return nil, err
	}
	h.setup(a, a.Logger())
	// The same rules as every token and console session (module/power).
	c, oerr := h.callerFor(power.Grounds{Local: true}, nil)
	if oerr != nil {
		a.CloseStandalone()
		return nil, errors.New(oerr.Description)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	return &session{ctx: ctx, cancel: cancel, cmd: cmd, a: a, h: h, c: c, json: asJSON, out: cmd.OutOrStdout()}, nil
}

func (s *session) close() {
	s.cancel()
	s.a.CloseStandalone()
}

// call runs an API route in-process as the command line and returns its
// JSON answer; a problem comes back as a cliProblem.
func (s *session) call(fn routeFunc, method, query string, body any, pathValues ...string) ([]byte, error) {
	status, out, err := inProcess{fn: fn, method: method, query: query, body: body, path: pathValues}.run(s.ctx, s.c)
	if err != nil {
		return nil, err // the operator sees the cause a server would only log
	}
	if status >= 400 {
		p, err := readProblem(status, out)
		if err != nil {
			return nil, err
		}
		return nil, cliProblem{p}
	}
	return out, nil
}

// cliProblem prints an RFC 9457 problem for an operator: the detail, then
// one line per invalid field.
type cliProblem struct{ p *problem }

func (e cliProblem) Error() string {
	var b strings.Builder
	b.WriteString(e.p.Detail)
	for _, f := range e.p.Errors {
		fmt.Fprintf(&b, "\n  %s: %s", f.Field, f.Message)
	}
	return b.String()
}

// show prints an answer: with --json as the API gave it (indented), else
// through text, which decodes raw itself.
func (s *session) show(raw []byte, text func(raw []byte) error) error {
	if s.json {
		var b bytes.Buffer
		if err := json.Indent(&b, bytes.TrimSpace(raw), "", "  "); err != nil {
			return err
		}
		b.WriteByte('\n')
		_, err := s.out.Write(b.Bytes())
		return err
	}
	return text(raw)
}

// note tells the operator something beside the answer, on stderr, so that
// stdout stays what a script reads.
func (s *session) note(format string, args ...any) {
	fmt.Fprintf(s.cmd.ErrOrStderr(), format+"\n", args...)
}

// fields prints name/value lines, aligned.
func (s *session) fields(pairs ...any) error {
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(tw, "%v\t%v\n", pairs[i], text(pairs[i+1]))
	}
	return tw.Flush()
}

// table prints a header and rows, aligned; a listing that has more than
// one page says so on stderr.
func (s *session) table(header []string, rows [][]any, total int64, offset int) error {
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = text(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if shown := int64(offset + len(rows)); shown < total || offset > 0 {
		s.note("(%d to %d of %d: use --offset and --limit for the others)", min(int64(offset+1), shown), shown, total)
	}
	return nil
}

// text renders a value for a table cell or field line.
func text(v any) string {
	switch v := v.(type) {
	case []string:
		if len(v) == 0 {
			return "-"
		}
		return strings.Join(v, " ")
	case *string:
		if v == nil {
			return "-"
		}
		return *v
	case *time.Time:
		if v == nil {
			return "-"
		}
		return text(*v)
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case string:
		if v == "" {
			return "-"
		}
		return v
	}
	return fmt.Sprint(v)
}

// pageFlags adds --offset, --limit and, with tenant, --tenant to a listing.
func pageFlags(cmd *cobra.Command, tenant bool) *cobra.Command {
	cmd.Flags().Int("offset", 0, "Skip this many entries")
	cmd.Flags().Int("limit", defaultLimit, fmt.Sprintf("Show at most this many entries (up to %d)", maxLimit))
	if tenant {
		cmd.Flags().String("tenant", "", "Only this tenant's entries")
	}
	return cmd
}

// listQuery is the query string of a listing from its flags, as the API
// takes it (the route checks the values).
func listQuery(cmd *cobra.Command) string {
	q := make([]string, 0, 3)
	for _, f := range []struct{ flag, param string }{{"offset", "offset"}, {"limit", "limit"}, {"tenant", "tenant_id"}} {
		if fl := cmd.Flags().Lookup(f.flag); fl != nil && fl.Changed {
			q = append(q, f.param+"="+url.QueryEscape(fl.Value.String()))
		}
	}
	return strings.Join(q, "&")
}

// showAnswer runs a route on one resource (id "" for none) and shows the
// resource of type T it answers, as the name, value pairs fields lists.
func showAnswer[T any](s *session, fn routeFunc, method, id string, body any, fields func(*T) []any) error {
	var pathValues []string
	if id != "" {
		pathValues = []string{"id", id}
	}
	raw, err := s.call(fn, method, "", body, pathValues...)
	if err != nil {
		return err
	}
	return s.show(raw, func(raw []byte) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		return s.fields(fields(&v)...)
	})
}
