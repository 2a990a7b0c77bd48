package issuer

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

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

// failed logs an internal error of a token request and returns its answer
// (serverFailure). A caller that hung up cancels the database query it was
// waiting for: nothing failed here, and anyone may do it as often as they
// like, so that is logged at debug level (the metric counts it as
// canceled) instead of as an error per request.
func (m *Minter) failed(ctx context.Context, msg string, err error, fields ...zap.Field) *oauth.Error {
	if errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled) {
		app.LogFailure(m.logger, zap.DebugLevel, msg, err, fields...)
		return canceledAnswer()
	}
	app.LogFailure(m.logger, zap.ErrorLevel, msg, err, fields...)
	return serverFailure(err)
}

// canceledAnswer answers a request whose context was canceled before its
// answer was ready. Go cancels it when the connection's read side closes,
// which is also what a client that half-closes after sending its request
// does (nc -N, socat at the end of its input) while it still reads: it
// gets a 503 to retry, not a 500 server_error, as nothing failed (seeds
// red team). A caller really gone reads nothing either way.
func canceledAnswer() *oauth.Error {
	e := oauth.New(oauth.TemporarilyUnavail, http.StatusServiceUnavailable,
		"the request was canceled before its answer was ready (the connection was closed for reading): send it again, keeping the connection open until the answer")
	e.Header = http.Header{"Retry-After": {"1"}}
	return e
}

// spendTimeout bounds the work of a grant that spends a single-use
// credential (a code, a refresh token), which goes on when its caller
// hangs up: longer than any of its transactions may take (TxTimeout), so
// that the deadline never lands inside a commit either.
var spendTimeout = 2*store.TxTimeout + 10*time.Second

// spending is the context of a grant that spends a single-use credential:
// not canceled when the caller hangs up. A cancel could land after the
// database had committed the spend but before the answer was known (the
// code or token used, no successor saved) or between the spend and its
// successor, and the caller's retry with the same credential would then
// look like a reuse and revoke the whole grant. The grant runs to its end
// instead, and takes itself back if the caller has gone by then (gone).
func spending(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), spendTimeout)
}

// aftermath is the context of work a grant still owes once its answer is
// decided (releasing a token, taking a grant back, pruning a family): not
// the caller's to cancel, with a short deadline of its own.
func aftermath(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}

// gone reports whether the caller of the request whose context is ctx has
// hung up (its answer cannot be delivered).
func gone(ctx context.Context) bool { return errors.Is(ctx.Err(), context.Canceled) }

// takeBack undoes a grant whose caller hung up before its answer (undo, on
// a context of its own) and returns the answer nobody reads: the retry
// then finds the code or refresh token as the caller left it, instead of
// spent, which would revoke the grant as a reuse.
func (m *Minter) takeBack(caller context.Context, what string, issued *Issued, undo func(context.Context) error) *oauth.Error {
	ctx, cancel := aftermath(caller)
	defer cancel()
	if err := undo(ctx); err != nil {
		m.logger.Error("taking back a "+what+" whose caller hung up", zap.Error(err))
	}
	// Its access token is never handed out, taken back or not: the retry
	// gets the allowance it took.
	m.refund(ctx, issued.charge)
	return m.failed(caller, what+" for a caller that hung up", context.Canceled)
}
