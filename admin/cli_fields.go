package admin

import (
	"bufio"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/scopegate/scopegate/module/app"
)

// bodyField is a flag that sets one member of an API request body. Only
// the flags given make it into the body, so an update, like the API's
// PATCH, changes what the command line names and nothing else.
type bodyField struct {
	flag, member, usage string
	kind                fieldKind
}

type fieldKind int

const (
	textField  fieldKind = iota // a string
	wordsField                  // a list; each value may hold several, space- or comma-separated (scopes)
	listField                   // a list, one entry per flag (redirect URIs)
	intField
	boolField
)

// addBodyFields declares fields as flags of cmd.
func addBodyFields(cmd *cobra.Command, fields []bodyField) {
	for _, f := range fields {
		switch f.kind {
		case textField:
			cmd.Flags().String(f.flag, "", f.usage)
		case wordsField, listField:
			cmd.Flags().StringArray(f.flag, nil, f.usage+" (repeatable; an empty value clears it)")
		case intField:
			cmd.Flags().Int(f.flag, 0, f.usage)
		case boolField:
			cmd.Flags().Bool(f.flag, false, f.usage)
		}
	}
}

// bodyOf builds a request body from the fields' flags that were given.
func bodyOf(cmd *cobra.Command, fields []bodyField) map[string]any {
	b := map[string]any{}
	fl := cmd.Flags()
	for _, f := range fields {
		if !fl.Changed(f.flag) {
			continue
		}
		switch f.kind {
		case textField:
			b[f.member], _ = fl.GetString(f.flag)
		case wordsField, listField:
			vals, _ := fl.GetStringArray(f.flag)
			list := []string{}
			for _, v := range vals {
				if f.kind == listField {
					if v = strings.TrimSpace(v); v != "" {
						list = append(list, v)
					}
					continue
				}
				list = append(list, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })...)
			}
			b[f.member] = list
		case intField:
			b[f.member], _ = fl.GetInt(f.flag)
		case boolField:
			b[f.member], _ = fl.GetBool(f.flag)
		}
	}
	return b
}

// passwordFlags adds --password-stdin, which keeps a password out of the
// command line (and so out of shell history and the process list).
func passwordFlags(cmd *cobra.Command) {
	cmd.Flags().Bool("password-stdin", false, "Read the password from the first line of standard input")
}

// readPassword returns the password from stdin when --password-stdin was
// given; ok is false when it was not.
func readPassword(cmd *cobra.Command) (string, bool, error) {
	if on, _ := cmd.Flags().GetBool("password-stdin"); !on {
		return "", false, nil
	}
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && line == "" {
		return "", true, app.Usagef("--password-stdin: no password on standard input")
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", true, app.Usagef("--password-stdin: the password is empty")
	}
	return pw, true, nil
}
