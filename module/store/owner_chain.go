package store

import (
	"context"
	"errors"
)

// CLIPrincipal owns what the command line (caddy scopegate) creates: the
// operator, with every power.
const CLIPrincipal = "cli"

// OwnerLookup reads users and clients for OwnerClients: from the database
// (the admin API) or a node's caches (token checks). Each answers nil and
// no error when the row does not exist.
type OwnerLookup struct {
	User   func(ctx context.Context, id string) (*User, error)
	Client func(ctx context.Context, id string) (*Client, error)
}

// OwnerClients walks up c's owners while they are clients (a client made
// with another client's token), nearest first, and stops at a user, the
// command line or a client that owns itself (bootstrap's). A client's
// admin power is capped by theirs (power.Grounds.Owners): otherwise
// disabling or deleting an admin client, after a leak say, would leave the
// clients made with it holding the power it handed out. broken is true
// when the chain ends at an owner that is gone, or runs longer than
// maxOwnerHops: nothing vouches for c then.
func OwnerClients(ctx context.Context, c *Client, look OwnerLookup) (owners []*Client, broken bool, err error) {
	for range maxOwnerHops {
		owner := c.OwnerID
		if owner == "" || owner == c.ID || owner == CLIPrincipal {
			return owners, false, nil
		}
		u, err := look.User(ctx, owner)
		if err != nil {
			return nil, false, err
		}
		if u != nil {
			return owners, false, nil
		}
		next, err := look.Client(ctx, owner)
		if err != nil {
			return nil, false, err
		}
		if next == nil {
			return owners, true, nil
		}
		owners = append(owners, next)
		c = next
	}
	return owners, true, nil
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
