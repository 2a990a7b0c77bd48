// Package token mints and verifies Scopegate's access tokens: JWTs per
// RFC 9068 signed with Ed25519 keys from a key ring kept in the database.
package token

import (
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Type is the JWT "typ" header of access tokens (RFC 9068 §2.1).
const Type = "at+jwt"

// Actor names who really acts when a token is used on behalf of someone
// else (RFC 8693 §4.1).
type Actor struct {
	Subject  string `json:"sub"`
	ClientID string `json:"client_id,omitempty"`
}

// Claims are the contents of an access token.
type Claims struct {
	jwt.RegisteredClaims
	// ClientID is the client the token was issued to.
	ClientID string `json:"client_id"`
	// Scope is the space-separated list of granted scopes.
	Scope string `json:"scope"`
	// Tenant is the client's tenant.
	Tenant string `json:"tenant,omitempty"`
	// Legs is 3 when a user is bound to the token (Subject is then the user
	// id), 2 when it acts for the client alone.
	Legs int `json:"legs"`
	// Act is set when the token acts for Subject on behalf of another party.
	Act *Actor `json:"act,omitempty"`
	// ConnectAs is set when Subject is the user the client connects as (not
	// a user the request named or who signed in), so the token ends when the
	// client is given another connect-as user.
	ConnectAs bool `json:"cas,omitempty"`
	// PlainUser is set when the client could name Subject only because the
	// user was not an admin (the token endpoint's user_tokens every_client),
	// so the token ends if the user becomes one.
	PlainUser bool `json:"pu,omitempty"`
	// NamedUser is set when the request named Subject (user_id) and the
	// client may name any user of its tenant (allow_user_tokens), so the
	// token ends if the client may no longer speak for that user (a super
	// admin, once the client's owner is no longer one).
	NamedUser bool `json:"nu,omitempty"`
	// Generation is the client's token generation when the token was
	// minted: an admin ending the client's tokens moves the client to the
	// next one, and tokens of an older one are refused. A counter, not a
	// time, so no clock of any node decides which tokens end.
	Generation int `json:"tgen,omitempty"`
	// Ext carries the claims a scope required at the token request (for
	// example Bits' application_id).
	Ext map[string]string `json:"ext,omitempty"`

	scopes []string // Scope split once, by Freeze
	kid    string   // the key that verified the token, set by Verify
}

// Freeze precomputes derived fields; call it before sharing the claims
// between goroutines (the verification cache does).
func (c *Claims) Freeze() { c.scopes = strings.Fields(c.Scope) }

// KeyID returns the kid of the key the token was verified with ("" for
// claims that did not come from Verify).
func (c *Claims) KeyID() string { return c.kid }

// Scopes returns the granted scopes as a list.
func (c *Claims) Scopes() []string {
	if c.scopes != nil {
		return c.scopes
	}
	return strings.Fields(c.Scope)
}

// UserID returns the bound user, or "" for a 2-legged token.
func (c *Claims) UserID() string {
	if c.Legs == 3 {
		return c.Subject
	}
	return ""
}
