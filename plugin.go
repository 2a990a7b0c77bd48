// Package scopegate pulls every Scopegate Caddy module into a build:
//
//	xcaddy build --with github.com/scopegate/scopegate
//
// The modules themselves live in module/ (the scopegate app, the token
// endpoint, discovery and the guard) and admin/ (the admin sub-route).
package scopegate

import (
	_ "github.com/scopegate/scopegate/admin"
	_ "github.com/scopegate/scopegate/module/app"
	_ "github.com/scopegate/scopegate/module/guard"
	_ "github.com/scopegate/scopegate/module/issuer"
)
