package issuer

import (
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
)

// serverFailure is the answer to an internal error err (already logged):
// 503 temporarily_unavailable with Retry-After when the database is
// unavailable (store.Unavailable decides, for every endpoint alike), else a
// 500 server_error that tells nothing.
func serverFailure(err error) *oauth.Error {
	if store.Unavailable(err) {
		return oauth.ErrUnavailable(store.RetryAfter)
	}
	return oauth.ErrServer()
}
