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

// applyConnectAsRules enforces the handler's connect_as_creator and
// require_connect_as options on cl, a client being created or changed, and
// reports whether it filled connect_as_user_id in (the caller then checks
// that user like one the body named). With either option an api_key client
// connects as a user of its tenant: connect_as_creator ties it to the admin
// user who creates it (applyConnectAsCreator); otherwise, left out on
// create, the connect-as user is that admin user when the caller is one of
// the client's tenant (as Bigtincan's form preselects the admin), and a key
// still without one is a 400 naming connect_as_user_id. Clients holding an
// admin scope (gateway tools, which connect as nobody or their creator) and
// an app's pairs for tenants (which may not connect as anyone) are exempt,
// and a change that touches neither the connect-as user, the auth method,
// the tenant nor the scopes leaves a client stored before the option was
// turned on editable.
func (h *Handler) applyConnectAsRules(ctx context.Context, f *fieldErrors, c *caller, cl *store.Client, b *clientBody, creating bool) (bool, error) {
	defaulted, err := h.applyConnectAsCreator(ctx, f, c, cl, b, creating)
	if err != nil || defaulted || f.has("connect_as_user_id") {
		return defaulted, err
	}
	required := h.RequireConnectAs || h.ConnectAsCreator
	touched := creating || b.ConnectAsUserID != nil || b.AuthMethod != nil || b.TenantID != nil || b.Scopes != nil
	if !required || !touched || cl.AuthMethod != store.AuthAPIKey || cl.AppID != nil ||
		cl.ConnectAsUserID != nil || h.holdsAdminScope(cl.AllowedScopes) {
		return false, nil
	}
	if creating && b.ConnectAsUserID == nil && !h.ConnectAsCreator && c.user != "" && c.tenant == cl.TenantID {
		cl.ConnectAsUserID = &c.user
		return true, nil
	}
	option := "require_connect_as"
	if h.ConnectAsCreator {
		option = "connect_as_creator"
	}
	f.add("connect_as_user_id", "is required for an api_key client: this gateway connects every API key as a user of its tenant (%s); name that user, or create the key as that user (console, or the user's admin token)", option)
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
