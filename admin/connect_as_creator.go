package admin

import (
	"context"
	"errors"

	"github.com/scopegate/scopegate/module/store"
)

// applyConnectAsCreator enforces the handler's connect_as_creator option on
// cl, an api_key client being created or changed: it connects as the admin
// user who created it. On create that user is the caller, when the caller is
// a user of the client's tenant; on a change it is the client's owner, when
// the owner is such a user. An absent connect_as_user_id becomes that user;
// any other value (another user, or "" for nobody) is a field error, so the
// key can never be moved to someone else. It reports whether it filled the
// field in, so the caller validates the user like a given one.
func (h *Handler) applyConnectAsCreator(ctx context.Context, f *fieldErrors, c *caller, cl *store.Client, b *clientBody, creating bool) (bool, error) {
	if !h.ConnectAsCreator || cl.AuthMethod != store.AuthAPIKey {
		return false, nil
	}
	var creator string
	switch {
	case creating:
		// A super admin's key for another tenant cannot connect as a user
		// of the default tenant: the usual rules apply there.
		if c.user != "" && c.tenant == cl.TenantID {
			creator = c.user
		}
	case b.ConnectAsUserID != nil || b.AuthMethod != nil || b.TenantID != nil:
		// Only a change that touches the connect-as user is checked, so
		// clients made before the option was turned on stay editable.
		var err error
		if creator, err = h.userOwner(ctx, cl); err != nil {
			return false, err
		}
	}
	if creator == "" {
		return false, nil
	}
	if b.ConnectAsUserID == nil && cl.ConnectAsUserID == nil {
		cl.ConnectAsUserID = &creator
		return true, nil
	}
	if cl.ConnectAsUserID == nil || *cl.ConnectAsUserID != creator {
		f.add("connect_as_user_id", "must be the admin who created the client, or left out: this gateway ties an API key to its creator (connect_as_creator)")
	}
	return false, nil
}

// userOwner returns cl's owner when it is a user of cl's tenant, else "".
func (h *Handler) userOwner(ctx context.Context, cl *store.Client) (string, error) {
	if !validID(cl.OwnerID) {
		return "", nil
	}
	u, err := h.app.Store().GetUser(ctx, cl.OwnerID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", nil
	case err != nil:
		return "", err
	case u.TenantID != cl.TenantID:
		return "", nil
	}
	return u.ID, nil
}
