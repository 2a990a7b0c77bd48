package app

import (
	"errors"
	"fmt"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

// Exit statuses of the scopegate commands: 0 done, 1 failed, 2 misused (an
// unknown subcommand, a bad flag or argument), as most Unix tools do.
const (
	ExitFailed = 1
	ExitUsage  = 2
)

// subcommands add commands under `caddy scopegate` from packages this one
// cannot import (the admin package's operator commands import app).
var subcommands []func(cmd *cobra.Command)

// RegisterSubcommand adds commands under `caddy scopegate`: add gets the
// scopegate command when Caddy builds its command tree. Call it from an
// init function.
func RegisterSubcommand(add func(cmd *cobra.Command)) {
	subcommands = append(subcommands, add)
}

// UsageError is a misuse of a command: it exits with ExitUsage.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Group makes cmd a command that only holds subcommands. Cobra rejects an
// unknown subcommand at the root only: below it, `caddy scopegate nope`
// printed the help page and exited 0, so a script's typo looked like
// success. Here an unknown subcommand is a usage error, the bare group
// prints its help, and a bad flag anywhere below cmd is a usage error too.
func Group(cmd *cobra.Command) {
	cmd.Args = nil // every argument reaches RunE, which names the unknown one
	cmd.SuggestionsMinimumDistance = 2
	cmd.RunE = RunE(func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		if args[0] == "help" { // `caddy scopegate client help rotate`
			if sub, _, err := cmd.Find(args[1:]); err == nil {
				return sub.Help()
			}
		}
		return unknownCommand(cmd, args[0])
	})
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		// `caddy scopegate frob --config F`: the group has no --config
		// (its subcommands do), but what went wrong is the command.
		if args := c.Flags().Args(); len(args) > 0 && len(c.Commands()) > 0 && c.RunE != nil {
			if sub, _, ferr := c.Find(args[:1]); ferr != nil || sub == c {
				return Fail(c, unknownCommand(c, args[0]))
			}
		}
		return Fail(c, &UsageError{Err: err})
	})
}

// unknownCommand is the usage error for name, not a subcommand of cmd.
func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return &UsageError{Err: errors.New(msg)}
}

// RunE adapts fn to cobra the way Fail answers its error.
func RunE(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error { return Fail(cmd, fn(cmd, args)) }
}

// Fail prints err on stderr, plainly (an operator reads it, not a log
// collector), and returns what makes Caddy exit with ExitUsage for a
// UsageError and ExitFailed for anything else; nil stays nil.
func Fail(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	cmd.SilenceErrors = true // printed here, once
	w := cmd.ErrOrStderr()
	fmt.Fprintln(w, "Error:", err)
	var usage *UsageError
	if !errors.As(err, &usage) {
		return err // caddycmd.Main exits 1
	}
	fmt.Fprintf(w, "Run '%s --help' for usage.\n", cmd.CommandPath())
	// Only caddycmd's own wrapper makes an error that carries a status.
	return caddycmd.WrapCommandFuncForCobra(func(caddycmd.Flags) (int, error) { return ExitUsage, nil })(cmd, nil)
}
