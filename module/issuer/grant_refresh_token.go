package issuer

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
)

func init() { RegisterGrant(refreshToken{}) }

// refreshToken is RFC 6749 §6 with rotation: every use returns a new refresh
// token and retires the old one; presenting a retired one again means it
// leaked, so the whole family is revoked. Only the token's own client can
// spend it or set off that revocation. The scope may narrow, never widen.
type refreshToken struct{}

func (refreshToken) Type() string { return "refresh_token" }

// PublicClients is true: a public client refreshes with its client_id.
func (refreshToken) PublicClients() bool { return true }

func (refreshToken) Handle(ctx context.Context, m *Minter, req *GrantRequest) (*Issued, *oauth.Error) {
	raw := req.Get("refresh_token")
	if raw == "" {
		return nil, oauth.ErrInvalidRequest("the refresh_token parameter is missing")
	}
	c := req.Client
	// A malformed scope is refused before the token is spent.
	requested, err := scope.Parse(req.Get("scope"))
	if err != nil {
		return nil, oauth.ErrInvalidScope("%s", err.Error())
	}
	// The presenter is vetted before the token is spent or taken as reused,
	// as a code's is: checked afterwards, any client that saw a victim's
	// refresh token could burn it and revoke the victim's whole grant.
	check := func(t *store.RefreshToken) error {
		if t.ClientID != c.ID {
			return refusal{oauth.ErrInvalidGrant("the refresh token was issued to another client")}
		}
		return nil
	}
	old, err := m.app.Store().UseRefreshToken(ctx, store.Digest(raw), time.Now(), check)
	var refused refusal
	switch {
	case errors.As(err, &refused):
		m.logger.Warn("a refresh token was presented by a client it was not issued to; it is left as it was",
			zap.String("client_id", c.ID))
		return nil, refused.oe
	case errors.Is(err, store.ErrNotFound):
		return nil, oauth.ErrInvalidGrant("the refresh token is unknown, expired or revoked")
	case errors.Is(err, store.ErrReused):
		m.logger.Warn("a rotated refresh token was reused; its family is revoked", zap.String("client_id", c.ID))
		return nil, oauth.ErrInvalidGrant("the refresh token was already used; every token of this grant is revoked")
	case err != nil:
		m.logger.Error("using a refresh token", zap.Error(err))
		return nil, serverFailure(err)
	}
	if len(requested) == 0 {
		requested = old.Scopes
	}
	for _, s := range requested {
		if !old.Scopes.Contains(s) {
			return nil, oauth.ErrInvalidScope("scope %q was not granted with this refresh token", s)
		}
	}
	scopes, oerr := m.resolveScopes(c, scope.Join(requested), 3)
	if oerr != nil {
		return nil, oerr
	}
	u, oerr := m.findUser(ctx, c, old.UserID)
	if oerr != nil {
		return nil, oerr
	}
	return m.mintWithRefresh(ctx, c, u, scopes, old.Scopes, old.FamilyID, old.Digest, req.Request)
}
