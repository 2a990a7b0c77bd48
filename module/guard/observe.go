package guard

import (
	"net"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/token"
)

// varRefused marks a request some guard refused, so that the first guard of
// the request, which counts it, does not count it as allowed too.
const varRefused = "scopegate.refused"

// Descriptions of the bearer header's own failures.
const (
	descNoBearer    = "no bearer token: send Authorization: Bearer <token>"
	descNotBearer   = "the Authorization header must use the Bearer scheme"
	descEmptyBearer = "the bearer token is empty"
)

// unauthorizedReasons names the reason of each 401: the guard answers a
// refused token with the error's own words, so the description says which
// error it was. The reason label takes only these values and "other".
var unauthorizedReasons = map[string]string{
	descNoBearer:                     "missing",
	descNotBearer:                    "malformed",
	descEmptyBearer:                  "malformed",
	descClaimMissing:                 "claim_missing",
	token.ErrMalformed.Error():       "malformed",
	token.ErrExpired.Error():         "expired",
	token.ErrNotYet.Error():          "not_yet_valid",
	token.ErrSignature.Error():       "signature",
	token.ErrIssuer.Error():          "issuer",
	token.ErrAudience.Error():        "audience",
	token.ErrType.Error():            "type",
	token.ErrAlgorithm.Error():       "algorithm",
	token.ErrUnknownKey.Error():      "unknown_key",
	app.ErrRevoked.Error():           "revoked",
	app.ErrClientDisabled.Error():    "client_disabled",
	app.ErrClientGone.Error():        "client_gone",
	app.ErrClientMoved.Error():       "client_moved",
	app.ErrUserDisabled.Error():      "user_disabled",
	app.ErrConnectAs.Error():         "connect_as",
	app.ErrConnectAsPromoted.Error(): "connect_as",
	app.ErrUserPromoted.Error():      "user_promoted",
}

// decision returns the metric labels of a refusal: a 401 by its reason,
// anything else by its error code.
func decision(e *oauth.Error) (decision, reason string) {
	switch e.Status {
	case http.StatusUnauthorized:
		if reason, ok := unauthorizedReasons[e.Description]; ok {
			return app.DecisionUnauthorized, reason
		}
		return app.DecisionUnauthorized, "other"
	case http.StatusForbidden:
		return app.DecisionForbidden, oauth.InsufficientScope
	case http.StatusBadRequest:
		return app.DecisionBadRequest, oauth.InvalidRequest
	case http.StatusServiceUnavailable:
		return app.DecisionUnavailable, oauth.TemporarilyUnavail
	case statusClientClosedRequest:
		return app.DecisionCanceled, "client_closed"
	}
	return app.DecisionError, oauth.ServerError
}

// observeRefusal counts a refused request and logs it at info level for the
// operator: who (the client and tenant of a token this gateway signed),
// why, and from where; never the token. Lines are sampled and the path cut
// (app.SampledLogger): anyone can send refused requests. Failures of the server itself are
// logged as errors where they happen.
func (g *Guard) observeRefusal(r *http.Request, e *oauth.Error) {
	varsOf(r).set(varRefused, true)
	d, reason := decision(e)
	app.ObserveGuardDecision(d, reason)
	if e.Status >= http.StatusInternalServerError {
		return
	}
	if ce := g.refusalLog(d, reason).Check(zap.InfoLevel, "token refused"); ce != nil {
		clientID, tenant := g.owner(r)
		ce.Write(zap.Int("status", e.Status), zap.String("reason", reason), zap.String("description", e.Description),
			zap.String("client_id", clientID), zap.String("tenant", tenant), zap.String("remote_addr", remoteAddr(r)),
			zap.String("method", r.Method), zap.String("path", app.LoggedPath(r.URL.Path)))
	}
}

// strangerReasons are the 401 reasons a request without a token of this
// gateway gets: no token, or one whose signature (or form) is not ours.
var strangerReasons = map[string]bool{"missing": true, "malformed": true, "signature": true, "unknown_key": true, "algorithm": true, "type": true}

// refusalLog is the sampled logger of a refusal: refusals anyone can cause
// (no token of this gateway, a bad request) have a budget of their own, so
// a flood of them cannot hide the refusals of a token the gateway signed
// (expired, revoked, a client disabled, a scope missing), which name a
// client an operator may be asked about.
func (g *Guard) refusalLog(d, reason string) *zap.Logger {
	if d == app.DecisionBadRequest || (d == app.DecisionUnauthorized && strangerReasons[reason]) {
		return g.refusals
	}
	return g.ownRefusals
}

// observeAllowed counts a request the first guard let through, once the
// rest of the route has run, unless a later guard refused it.
func observeAllowed(vars requestVars) {
	if !vars.refused() {
		app.ObserveGuardDecision(app.DecisionAllowed, "")
	}
}

// owner returns the client and tenant of the request's token: from the
// identity an earlier check verified, else from a token whose signature is
// this gateway's (an expired or revoked one, say).
func (g *Guard) owner(r *http.Request) (clientID, tenant string) {
	if id := varsOf(r).identity(); id != nil {
		return id.Claims.ClientID, id.Claims.Tenant
	}
	raw, oerr := bearer(r)
	if oerr != nil {
		return "", ""
	}
	return g.app.TokenOwner(r.Context(), raw)
}

// remoteAddr is the client's IP as Caddy determined it (honouring
// trusted_proxies), else the connection's.
func remoteAddr(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
