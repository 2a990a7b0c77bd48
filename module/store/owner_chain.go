package store

import (
	"context"
	"errors"
)

// CLIPrincipal owns what the command line (caddy scopegate) creates: the
// operator, with every power.
const CLIPrincipal = "cli"

// maxOwnerHops bounds the walk up a chain of clients that made clients.
const maxOwnerHops = 8

// OwnerLookup reads users and clients for LineageOf: from the database
// (the admin API) or a node's caches (token checks). Each answers nil and
// no error when the row does not exist.
type OwnerLookup struct {
	User   func(ctx context.Context, id string) (*User, error)
	Client func(ctx context.Context, id string) (*Client, error)
}

// Lineage is what a client's admin power rests on besides its own scopes
// (power.Grounds).
type Lineage struct {
	// CreatorID names the admin user whose power created the client: its
	// CreatorUserID when set, else (rows from before that column) the
	// first recorded up the chain of owners, else the user the chain ends
	// at; "" when no user is behind it (bootstrap's client owns itself and
	// what its token makes, the command line, a broken chain). Creator is
	// that user, nil when gone.
	CreatorID string
	Creator   *User
	// Owners are the clients up the chain of owners (a client made with
	// another client's token), nearest first, up to a user, the command
	// line or a client that owns itself: a client has no more power than
	// they have now, or disabling or deleting an admin client after a
	// leak would leave the clients made with it holding its power.
	// Broken says the chain ends at an owner that is gone or runs longer
	// than maxOwnerHops: nothing vouches for the client then.
	Owners []*Client
	Broken bool
}

// LineageOf walks up c's owners.
func LineageOf(ctx context.Context, c *Client, look OwnerLookup) (Lineage, error) {
	var l Lineage
	endUser, err := l.walk(ctx, c, look)
	if err != nil {
		return Lineage{}, err
	}
	for _, x := range append([]*Client{c}, l.Owners...) {
		if x.CreatorUserID != "" {
			l.CreatorID = x.CreatorUserID
			break
		}
	}
	if l.CreatorID == "" && !l.Broken {
		l.CreatorID = endUser
	}
	if l.CreatorID != "" {
		if l.Creator, err = look.User(ctx, l.CreatorID); err != nil {
			return Lineage{}, err
		}
	}
	return l, nil
}

// walk fills Owners and Broken, and returns the user the chain ends at
// ("" when it ends elsewhere).
func (l *Lineage) walk(ctx context.Context, c *Client, look OwnerLookup) (string, error) {
	for range maxOwnerHops {
		owner := c.OwnerID
		if owner == "" || owner == c.ID || owner == CLIPrincipal {
			return "", nil
		}
		u, err := look.User(ctx, owner)
		if err != nil {
			return "", err
		}
		if u != nil {
			return owner, nil
		}
		next, err := look.Client(ctx, owner)
		if err != nil {
			return "", err
		}
		if next == nil {
			l.Broken = true
			return "", nil
		}
		l.Owners = append(l.Owners, next)
		c = next
	}
	l.Broken = true
	return "", nil
}

// ClientCreator is LineageOf(c).CreatorID and Creator, read from the
// database.
func (s *Store) ClientCreator(ctx context.Context, c *Client) (string, *User, error) {
	l, err := LineageOf(ctx, c, s.DBOwnerLookup())
	return l.CreatorID, l.Creator, err
}

// DBOwnerLookup reads owners from the database.
func (s *Store) DBOwnerLookup() OwnerLookup {
	return OwnerLookup{
		User: func(ctx context.Context, id string) (*User, error) {
			u, err := s.GetUser(ctx, id)
			if errors.Is(err, ErrNotFound) {
				return nil, nil
			}
			return u, err
		},
		Client: func(ctx context.Context, id string) (*Client, error) {
			c, err := s.GetClient(ctx, id)
			if errors.Is(err, ErrNotFound) {
				return nil, nil
			}
			return c, err
		},
	}
}
