package token

import (
	"math"
	"time"

	json "github.com/goccy/go-json"
	"github.com/golang-jwt/jwt/v5"
)

// claimsWire is Claims as its JSON, with plain field types. The registered
// claims' own types (jwt.NumericDate, jwt.ClaimStrings) each decode through
// a second json.Unmarshal, which made decoding the larger part of a
// first-seen token's cost. decodeOwnClaims uses it for payloads whose
// signature is already confirmed: Scopegate wrote them, so they have the
// shapes written below. It decodes with goccy/go-json, about four times
// faster than encoding/json here; since the signature is checked first, it
// only ever reads bytes this deployment wrote (hostile input never reaches
// it), and TestDecodeOwnClaimsMatchesUnmarshal and FuzzVerifierParse hold
// its result to encoding/json's.
type claimsWire struct {
	Issuer    string            `json:"iss"`
	Subject   string            `json:"sub"`
	Audience  any               `json:"aud"` // a string, or an array of strings
	ExpiresAt *float64          `json:"exp"`
	NotBefore *float64          `json:"nbf"`
	IssuedAt  *float64          `json:"iat"`
	ID        string            `json:"jti"`
	ClientID  string            `json:"client_id"`
	Scope     string            `json:"scope"`
	Tenant    string            `json:"tenant"`
	Legs      int               `json:"legs"`
	Act       *Actor            `json:"act"`
	ConnectAs bool              `json:"cas"`
	PlainUser bool              `json:"pu"`
	NamedUser bool              `json:"nu"`
	Gen       int               `json:"tgen"`
	Ext       map[string]string `json:"ext"`
}

// decodeOwnClaims decodes payload into c, as json.Unmarshal(payload, c)
// does for what Sign writes.
func decodeOwnClaims(payload []byte, c *Claims) error {
	var w claimsWire
	if err := json.Unmarshal(payload, &w); err != nil {
		return err
	}
	aud, err := audience(w.Audience)
	if err != nil {
		return err
	}
	*c = Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: w.Issuer, Subject: w.Subject, Audience: aud, ID: w.ID,
			ExpiresAt: numericDate(w.ExpiresAt), NotBefore: numericDate(w.NotBefore), IssuedAt: numericDate(w.IssuedAt),
		},
		ClientID: w.ClientID, Scope: w.Scope, Tenant: w.Tenant, Legs: w.Legs,
		Act: w.Act, ConnectAs: w.ConnectAs, PlainUser: w.PlainUser, NamedUser: w.NamedUser, Generation: w.Gen, Ext: w.Ext,
	}
	return nil
}

// audience is jwt.ClaimStrings.UnmarshalJSON on a decoded value.
func audience(v any) (jwt.ClaimStrings, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return jwt.ClaimStrings{v}, nil
	case []any:
		aud := make(jwt.ClaimStrings, 0, len(v))
		for _, s := range v {
			s, ok := s.(string)
			if !ok {
				return nil, jwt.ErrInvalidType
			}
			aud = append(aud, s)
		}
		return aud, nil
	}
	return nil, jwt.ErrInvalidType
}

// numericDate is jwt.NumericDate.UnmarshalJSON on a decoded number.
func numericDate(f *float64) *jwt.NumericDate {
	if f == nil {
		return nil
	}
	round, frac := math.Modf(*f)
	return jwt.NewNumericDate(time.Unix(int64(round), int64(frac*1e9)))
}
