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
func (refreshToken) Params() []string    { return []string{"refresh_token"} }

func (refreshToken) Handle(ctx context.Context, m *Minter, req *GrantRequest) (*Issued, *oauth.Error) {
	raw := req.Get("refresh_token")
	if raw == "" {
		return nil, oauth.ErrInvalidRequest("the refresh_token parameter is missing")
	}
	c := req.Client
	caller := ctx
	ctx, cancel := spending(ctx)
	defer cancel()
	// A malformed scope is refused before the token is spent.
	requested, err := scope.Parse(req.Get("scope"))
	if err != nil {
		return nil, oauth.ErrInvalidScope("%s", err.Error())
	}
	// The presenter and the request are vetted before the token is spent
	// or taken as reused, as a code's are. Checked afterwards, any client
	// that saw a victim's refresh token could burn it and revoke the
	// victim's whole grant; and an error must leave the token usable (RFC
	// 6749 §6): a client told invalid_scope retries with the same token.
	var scopes []string
	otherClient := false
	check := func(t *store.RefreshToken) error {
		if t.ClientID != c.ID {
			otherClient = true
			return refusal{oauth.ErrInvalidGrant("the refresh token was issued to another client")}
		}
		var oerr *oauth.Error
		if scopes, oerr = m.refreshScopes(c, t, requested, req.Request); oerr != nil {
			return refusal{oerr}
		}
		return nil
	}
	old, err := m.app.Store().UseRefreshTokenValue(ctx, raw, m.app.Sealer(), time.Now(), check)
	var refused refusal
	switch {
	case errors.As(err, &refused):
		if otherClient {
			m.logger.Warn("a refresh token was presented by a client it was not issued to; it is left as it was",
				zap.String("client_id", c.ID))
		}
		return nil, refused.oe
	case errors.Is(err, store.ErrNotFound):
		return nil, oauth.ErrInvalidGrant("the refresh token is unknown, expired or revoked")
	case errors.Is(err, store.ErrReused):
		m.logger.Warn("a rotated refresh token was reused; its family is revoked", zap.String("client_id", c.ID))
		return nil, oauth.ErrInvalidGrant("the refresh token was already used; every token of this grant is revoked")
	case err != nil:
		return nil, m.failed(ctx, "using a refresh token", err)
	}
	issued, oerr := m.refreshWith(ctx, c, old, raw, scopes, req.Request)
	if oerr != nil {
		// What failed once the token was spent (its user gone, a daily
		// allowance used up) leaves it usable as well, with a deadline of
		// its own: the refresh may have failed because ctx's ran out, and a
		// token left spent with no successor would make the client's retry
		// look like a reuse.
		rctx, cancel := aftermath(ctx)
		defer cancel()
		if err := m.app.Store().ReleaseRefreshToken(rctx, old.Digest); err != nil {
			m.logger.Error("releasing a refresh token after a failed refresh", zap.Error(err))
		}
		return nil, oerr
	}
	if gone(caller) {
		return nil, m.takeBack(caller, "refresh", issued, func(ctx context.Context) error {
			return m.app.Store().UndoRotation(ctx, old.Digest, issued.refreshDigest)
		})
	}
	return issued, nil
}

// refreshScopes decides the scopes of a refresh of t: those asked for, or
// the grant's when none are, each granted with t and still assignable to
// the client, with the claims they demand present in the request.
func (m *Minter) refreshScopes(c *store.Client, t *store.RefreshToken, requested []string, req *Request) ([]string, *oauth.Error) {
	if len(requested) == 0 {
		requested = t.Scopes
	}
	for _, s := range requested {
		// A scope the granted ones imply is a narrowing too (the user who
		// approved demo.write approved demo.read with it, as authorize
		// reads an approval); resolveScopes then checks the client may
		// hold it on its own conditions.
		if !t.Scopes.Contains(s) && !m.app.Catalogue().Satisfies(t.Scopes, s) {
			return nil, oauth.ErrInvalidScope("scope %q was not granted with this refresh token", s)
		}
	}
	scopes, oerr := m.resolveScopes(c, scope.Join(requested), 3)
	if oerr != nil {
		return nil, oerr
	}
	if _, oerr := m.requiredClaims(c, scopes, req); oerr != nil {
		return nil, oerr
	}
	return scopes, nil
}

// refreshWith issues the successor of the spent refresh token old, whose
// value was raw.
func (m *Minter) refreshWith(ctx context.Context, c *store.Client, old *store.RefreshToken, raw string, scopes []string, req *Request) (*Issued, *oauth.Error) {
	u, oerr := m.findUser(ctx, c, old.UserID)
	if oerr != nil {
		return nil, oerr
	}
	// The successor names its family as the spent token did; a family
	// made before tokens named theirs goes on unnamed (its retired tokens
	// are known by their rows alone, so they are never pruned).
	handle := store.RefreshHandleOf(raw)
	if handle != "" && store.Digest(handle) != old.FamilyID {
		handle = ""
	}
	return m.mintWithRefresh(ctx, c, u, scopes, old.Scopes, old.FamilyID, handle, old.Digest, req)
}
