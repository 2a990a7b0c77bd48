package issuer

import (
	"context"
	"strings"
	"unicode"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
)

func init() { RegisterGrant(clientCredentials{}) }

// clientCredentials is RFC 6749 §4.4, extended the way Nitro documents it: a
// user_id (or userId) makes a 3-legged token bound to that user, for clients
// allowed to ask; a client that connects as a fixed user (Bigtincan, Imagen
// API keys) always gets 3-legged tokens for that user.
type clientCredentials struct{}

func (clientCredentials) Type() string { return "client_credentials" }

// PublicClients is false: the client's secret is its only credential here
// (which kinds of client may use the grant at all, mayUse decides).
func (clientCredentials) PublicClients() bool { return false }

// Params: the user, in Nitro's spelling too (userIDSpelling covers the
// misspellings userParamMisspelt refuses).
func (clientCredentials) Params() []string { return []string{"user_id", "userId"} }

func (clientCredentials) Handle(ctx context.Context, m *Minter, req *GrantRequest) (*Issued, *oauth.Error) {
	c := req.Client
	var oerr *oauth.Error
	sub := TokenSubject{Client: c}
	userParam, oerr := req.Alias("user_id", "userId")
	if oerr != nil {
		return nil, oerr
	}
	if userParam == "" && c.ConnectAsUserID == nil {
		if name := userParamMisspelt(req.Request); name != "" {
			return nil, oauth.ErrInvalidRequest("a user is named by user_id (or userId), not %q: without one this would be a 2-legged token", truncate(name))
		}
	}
	switch {
	case c.ConnectAsUserID != nil:
		// The fixed user always wins: letting user_id pick another would
		// hand a connect-as client 3-legged tokens for any user of the
		// tenant, with no act claim to say who acted.
		if sub.User, oerr = m.findUser(ctx, c, *c.ConnectAsUserID); oerr != nil {
			if oerr.Code == oauth.InvalidGrant {
				oerr = oauth.ErrInvalidGrant("the user this client connects as is disabled or gone")
			}
			return nil, oerr
		}
		if oerr := m.speaksFor(ctx, c, sub.User, "the user this client connects as is a super admin, and the client's owner is neither that user nor a super admin: a super admin must create the client"); oerr != nil {
			return nil, oerr
		}
		if userParam != "" && userParam != sub.User.ID && userParam != sub.User.Username {
			return nil, oauth.ErrInvalidRequest("this client connects as a fixed user: leave out user_id, or name that user")
		}
		sub.ConnectAs = true
	case userParam != "":
		if sub.User, oerr = m.userFor(ctx, c, userParam); oerr != nil {
			return nil, oerr
		}
		sub.PlainUser, sub.NamedUser = !c.AllowUserTokens, c.AllowUserTokens
	}
	legs := 2
	if sub.User != nil {
		legs = 3
	}
	scopes, oerr := m.grantScopes(c, req.Get("scope"), legs, req.Get)
	if oerr != nil {
		return nil, oerr
	}
	ext, oerr := m.requiredClaims(c, scopes, req.Request)
	if oerr != nil {
		return nil, oerr
	}
	return m.mint(ctx, sub, scopes, ext)
}

// userFor loads the user a client_credentials request names. A client with
// allow_user_tokens may name any active user of its tenant. Where the
// endpoint says user_tokens every_client (Nitro), any other client may name
// one who is not an admin (the token ends if the user becomes one:
// PlainUser), unless it holds an admin scope or is an app's pair for a
// tenant (its secret is the app developer's): naming an admin
// would let whoever made the client speak for a user that may hold more
// power than they do, which is what allow_user_tokens' own power rule
// prevents; and a client holding an admin scope never takes a user_id.
func (m *Minter) userFor(ctx context.Context, c *store.Client, userParam string) (*store.User, *oauth.Error) {
	if c.AllowUserTokens {
		u, oerr := m.findUser(ctx, c, userParam)
		if oerr != nil {
			return nil, oerr
		}
		return u, m.speaksFor(ctx, c, u, "the user named is a super admin, and this client's owner is neither that user nor a super admin")
	}
	if !m.userTokensEveryClient {
		return nil, oauth.ErrUnauthorizedClient("this client may not ask for tokens bound to a user (user_id)")
	}
	if m.app.Catalogue().GivesAdmin(c.AllowedScopes) {
		return nil, oauth.ErrUnauthorizedClient("a client holding an admin scope may not ask for tokens bound to a user (user_id)")
	}
	if c.AppID != nil {
		// A tenant's pair of an app: its secret is the app developer's,
		// who may be of another tenant, and the tenant's admin allowed
		// scopes, not the tenant's users.
		return nil, oauth.ErrUnauthorizedClient("an app's client for a tenant may not ask for tokens bound to a user (user_id) unless it allows user tokens")
	}
	u, oerr := m.findUser(ctx, c, userParam)
	if oerr != nil {
		return nil, oerr
	}
	if u.Admin || u.SuperAdmin {
		return nil, oauth.ErrUnauthorizedClient("this client may name only users who are not admins (user_id); naming an admin needs allow_user_tokens")
	}
	return u, nil
}

// speaksFor refuses a token of c speaking for u, a super admin, when c's
// owner is neither u nor a super admin now (app.SpeaksFor): someone may
// hold the client's secret who set it up before u was promoted, or kept it
// after being demoted. refusal is the error's description.
func (m *Minter) speaksFor(ctx context.Context, c *store.Client, u *store.User, refusal string) *oauth.Error {
	switch speaks, err := m.app.SpeaksFor(ctx, c, u); {
	case err != nil:
		return m.failed(ctx, "reading the power of a client's owner", err)
	case !speaks:
		return oauth.ErrUnauthorizedClient("%s", refusal)
	}
	return nil
}

// userParamMisspelt returns a parameter of req that names a user under
// another spelling of user_id (userid, UserID, user-id, USER_ID, "user id"), "" when
// there is none. Unrecognized parameters are otherwise ignored (RFC 6749
// §3.2), but this one would silently turn a request for a user's 3-legged
// token into a 2-legged one, which may carry the tenant-wide scopes
// (Nitro's global) the caller never meant to ask for.
func userParamMisspelt(req *Request) string {
	for name, v := range req.Params {
		if v != "" && name != "user_id" && name != "userId" && userIDSpelling(name) {
			return name
		}
	}
	return ""
}

// userIDSpelling reports whether name spells user_id in any case, with or
// without a separator.
func userIDSpelling(name string) bool {
	if len(name) < len("userid") || len(name) > len("user__id") {
		return false
	}
	var folded strings.Builder
	for _, r := range name {
		if r != '_' && r != '-' && r != '.' && r != ' ' {
			folded.WriteRune(unicode.ToLower(r))
		}
	}
	return folded.String() == "userid"
}
