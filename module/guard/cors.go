package guard

import "github.com/scopegate/scopegate/module/cors"

// CORS lets browser pages of other origins call the guarded route with a
// bearer token (module/cors). A browser sends such a call's preflight (an
// OPTIONS request with Access-Control-Request-Method) without the token, so
// a guard alone answers it 401 and the page never sends the call; Caddy has
// no CORS handler of its own. With cors set, the first guard of the route
// answers the preflights of the origins listed itself (the upstream never
// sees them), and marks the answers to their calls, refusals included, as
// readable by the page.
type CORS = cors.Config
