package web

import (
	"net"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/scopegate/scopegate/module/store"
)

// SignInRefusal is a refused sign-in (console or authorize page), for the
// operator's log.
type SignInRefusal struct {
	Page     string // "console" or "authorize"
	ClientID string // the application the user signs in to (authorize page)
	Tenant   string
	// User is the user the form named, nil when there is none.
	User       *store.User
	PasswordOK bool // the password matched User's
	NeedAdmin  bool // only admins may sign in (console)
	Throttled  bool // refused before any check: too many attempts
}

// Reason says why the sign-in was refused, from a fixed set: throttled,
// unknown_user, wrong_password, user_disabled, not_admin.
func (s SignInRefusal) Reason() string {
	switch {
	case s.Throttled:
		return "throttled"
	case s.User == nil:
		return "unknown_user"
	case !s.PasswordOK:
		return "wrong_password"
	case s.User.Disabled:
		return "user_disabled"
	case s.NeedAdmin && !s.User.Admin:
		return "not_admin"
	}
	return "other"
}

// LogSignInRefused logs s at info level with the user's id when one was
// found, never the username as typed (people type passwords into it by
// mistake) nor the password.
func LogSignInRefused(log *zap.Logger, r *http.Request, s SignInRefusal) {
	if ce := log.Check(zap.InfoLevel, "sign-in failed"); ce != nil {
		writeSignInRefused(ce, r, s)
	}
}

// LogSignInThrottled logs a sign-in refused before any check, with too many
// attempts, on log, which the caller samples (app.SampledLogger): unlike the
// other refusals, which the throttle bounds, these come as fast as a client
// sends them (70,000 lines in 10 s from one address, in a red team's test).
// tenant is asked only for a line that is written (the console looks the
// typed tenant up in the database).
func LogSignInThrottled(log *zap.Logger, r *http.Request, page, clientID string, tenant func() string) {
	if log == nil {
		return
	}
	if ce := log.Check(zap.InfoLevel, "sign-in failed"); ce != nil {
		writeSignInRefused(ce, r, SignInRefusal{Page: page, ClientID: clientID, Tenant: tenant(), Throttled: true})
	}
}

func writeSignInRefused(ce *zapcore.CheckedEntry, r *http.Request, s SignInRefusal) {
	userID := ""
	if s.User != nil {
		userID = s.User.ID
	}
	tenant := s.Tenant // the console passes only a tenant that exists; keep it short anyway
	if len(tenant) > 64 {
		tenant = tenant[:64]
	}
	ce.Write(zap.String("page", s.Page), zap.String("reason", s.Reason()), zap.String("client_id", s.ClientID),
		zap.String("tenant", tenant), zap.String("user_id", userID), zap.String("remote_addr", ClientIP(r)))
}

// ClientIP is the client's IP as Caddy determined it (honouring
// trusted_proxies), else the connection's.
func ClientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
