package issuer

import (
	"github.com/scopegate/scopegate/module/app"
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

// notOpen is 503 temporarily_unavailable when a's database is not open (its
// start failed, see app.Available), else nil.
func notOpen(a *app.App) *oauth.Error {
	if err := a.Available(); err != nil {
		return serverFailure(err)
	}
	return nil
}
