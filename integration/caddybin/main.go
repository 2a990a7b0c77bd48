// Command caddybin is Caddy with the standard modules and Scopegate, the
// same as what xcaddy builds, compiled by the integration tests and the load
// script in seconds instead of an xcaddy build's minutes.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/scopegate/scopegate"
)

func main() {
	caddycmd.Main()
}
