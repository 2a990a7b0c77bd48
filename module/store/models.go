package store

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// Strings is a list of strings kept as a JSON array in a text column, the
// same on SQLite and PostgreSQL.
type Strings []string

// GormDataType tells GORM the column type.
func (Strings) GormDataType() string { return "text" }

// Value implements driver.Valuer.
func (s Strings) Value() (driver.Value, error) {
	if s == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(s))
	return string(b), err
}

// Scan implements sql.Scanner.
func (s *Strings) Scan(v any) error {
	var b []byte
	switch t := v.(type) {
	case nil:
		*s = nil
		return nil
	case string:
		b = []byte(t)
	case []byte:
		b = t
	default:
		return fmt.Errorf("cannot scan %T into Strings", v)
	}
	return json.Unmarshal(b, (*[]string)(s))
}

// Contains reports whether v is in the list.
func (s Strings) Contains(v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Actor identifies who makes a change, for the audit log.
type Actor struct {
	Principal  string
	TenantID   string
	RemoteAddr string
	// Via names the channel: the token's client_id (then " act " and the
	// RFC 8693 actor when the token acts for someone), "console" for a
	// console session, "" for a local command.
	Via string
	// Super marks an actor with super admin power: what it disables only a
	// super admin enables again.
	Super bool
	// ReadAt, when set, makes a client action (disable, restore, delete,
	// revoke its tokens, rotate its secret) apply only to the row last
	// changed then, the version the request's If-Match named: ErrStale
	// otherwise, checked under the row's lock in the action's transaction.
	ReadAt *time.Time
}

func allModels() []any {
	return []any{&Tenant{}, &User{}, &Client{}, &SigningKey{}, &Revocation{}, &Change{}, &DailyUsage{}, &AuditEntry{}, &DeveloperApp{}, &Connection{}, &Consent{}, &AuthCode{}, &RefreshToken{}, &EndedSession{}, &ImplicitToken{}, &RevocationWatermark{}}
}
