// Package scopegate pulls every Scopegate Caddy module into a build:
//
//	xcaddy build --with github.com/scopegate/scopegate
//
// The modules themselves live in module/ (the scopegate app, the token
// endpoint, discovery, the guard and the health probes) and admin/ (the admin sub-route).
package scopegate

import (
	_ "github.com/scopegate/scopegate/admin"
	_ "github.com/scopegate/scopegate/module/app"
	_ "github.com/scopegate/scopegate/module/guard"
	_ "github.com/scopegate/scopegate/module/health"
	_ "github.com/scopegate/scopegate/module/issuer"
	_ "github.com/scopegate/scopegate/module/lazylog"
)
