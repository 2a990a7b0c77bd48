package issuer

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/oauth"
)

// outcomeCanceled is the outcome of a request whose caller went away
// before the answer.
const outcomeCanceled = "canceled"

// observe counts a token endpoint answer (grant type, outcome, time taken)
// and logs a failed client authentication at info level: the client and
// tenant when the client exists, why it failed and from where; never the
// secret.
func (e *TokenEndpoint) observe(r *http.Request, req *Request, oerr *oauth.Error, start time.Time) {
	outcome := "issued"
	switch {
	case oerr == nil:
	case (oerr.Code == oauth.ServerError || oerr.Code == oauth.TemporarilyUnavail) && errors.Is(r.Context().Err(), context.Canceled):
		// The caller hung up while the database was asked (which cancels
		// the query): nothing failed here.
		outcome = outcomeCanceled
	default:
		outcome = oerr.Code
	}
	app.ObserveTokenRequest(grantLabel(req), outcome, time.Since(start))
	logAuthFailure(e.failed, e.app, r, req, oerr, EndpointToken)
}

// logAuthFailure logs, sampled (failed is an app.SampledLogger), a failed
// client authentication at the token, introspection or revocation
// endpoint: secret guessing, or a disabled client's credentials still in
// use, show wherever they are tried.
func logAuthFailure(failed *zap.Logger, a *app.App, r *http.Request, req *Request, oerr *oauth.Error, endpoint string) {
	if oerr == nil || oerr.Code != oauth.InvalidClient || failed == nil {
		return
	}
	if ce := failed.Check(zap.InfoLevel, "client authentication failed"); ce != nil {
		reason, clientID, tenant := authFailure(a, req)
		ce.Write(zap.String("reason", reason), zap.String("client_id", clientID), zap.String("tenant", tenant),
			zap.String("endpoint", endpoint), zap.String("grant_type", grantLabel(req)), zap.String("remote_addr", clientIP(r)))
	}
}

// grantLabel names the request's grant for metrics and logs: a grant
// Scopegate has, "none" when the request names none (or could not be read)
// and "unsupported" for anything else, so a caller cannot mint label values.
func grantLabel(req *Request) string {
	if req == nil || req.Get("grant_type") == "" {
		return "none"
	}
	if _, ok := grants[req.Get("grant_type")]; ok {
		return req.Get("grant_type")
	}
	return "unsupported"
}

// authFailure says why a request's client authentication failed: the checks
// the grant made, made again in the same order (the secret check is an HMAC,
// not a password hash). The client id is named when the client exists, or
// when it has the shape of the ids Scopegate makes: whatever else a caller
// put there may be a secret pasted into the wrong field.
func authFailure(a *app.App, req *Request) (reason, clientID, tenant string) {
	if req == nil {
		return "malformed_credentials", "", ""
	}
	if req.ClientID == "" {
		return "no_credentials", "", ""
	}
	ctx := req.HTTP.Context()
	c, err := a.Runtime().Client(ctx, req.ClientID)
	if err != nil {
		return "unknown", "", ""
	}
	if c == nil {
		if generatedID(req.ClientID) {
			clientID = req.ClientID
		}
		return "unknown_client", clientID, ""
	}
	clientID, tenant = c.ID, c.TenantID
	if req.ClientSecret == "" {
		return "no_secret", clientID, tenant
	}
	_, err = a.AuthenticateClient(ctx, req.ClientID, req.ClientSecret)
	switch {
	case errors.Is(err, app.ErrBadCredentials):
		return "wrong_secret", clientID, tenant
	case errors.Is(err, app.ErrClientDisabled):
		return "client_disabled", clientID, tenant
	}
	return "other", clientID, tenant
}

// generatedID reports whether id looks like one app.NewClientID makes.
func generatedID(id string) bool {
	rest, ok := strings.CutPrefix(id, "sg_")
	if !ok || len(rest) == 0 || len(rest) > 64 {
		return false
	}
	for _, c := range rest {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
