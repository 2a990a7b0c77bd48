package app

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"
)

// From returns the config's scopegate app for a handler's Provision,
// loading it (with its zero-config defaults) if the config names none.
func From(ctx caddy.Context) (*App, error) {
	v, err := ctx.App("scopegate")
	if err != nil {
		return nil, fmt.Errorf("loading the scopegate app: %w", err)
	}
	a, ok := v.(*App)
	if !ok {
		return nil, fmt.Errorf("the scopegate app is a %T, not *app.App", v)
	}
	return a, nil
}
