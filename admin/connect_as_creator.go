package admin

import (
	"context"
	"errors"
	"slices"

	"github.com/scopegate/scopegate/module/scope"
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
// the client's tenant and its token carries that user's power (as
// Bigtincan's form preselects the admin), and a key still without one is a
// 400 naming connect_as_user_id. Exempt: gateway tools, whose every scope
// is Scopegate's own (they connect as nobody or their creator), and an app's
// pairs for tenants (which may not connect as anyone). tie reports whether
// the change touches what ties a key to a user (applyClient): a change that
// does not leaves a client stored before the option was turned on editable.
func (h *Handler) applyConnectAsRules(ctx context.Context, f *fieldErrors, c *caller, cl *store.Client, b *clientBody, creating, tie bool) (bool, error) {
	defaulted, err := h.applyConnectAsCreator(ctx, f, c, cl, b, creating)
	if err != nil || defaulted || f.has("connect_as_user_id") {
		return defaulted, err
	}
	required := h.RequireConnectAs || h.ConnectAsCreator
	if !required || !tie || cl.AuthMethod != store.AuthAPIKey || cl.AppID != nil ||
		cl.ConnectAsUserID != nil || h.gatewayTool(cl.AllowedScopes) {
		return false, nil
	}
	if creating && b.ConnectAsUserID == nil && !h.ConnectAsCreator && c.user != "" && c.tenant == cl.TenantID {
		cl.ConnectAsUserID = &c.user
		switch err := h.mayGive(ctx, c, cl); {
		case err == nil:
			return true, nil
		case problemFor(err) == nil:
			return false, err
		}
		// A narrower token of the user (a super admin's holding only
		// tenant_admin) cannot speak for it: the body names the user.
		cl.ConnectAsUserID = nil
	}
	option := "require_connect_as"
	if h.ConnectAsCreator {
		option = "connect_as_creator"
	}
	f.add("connect_as_user_id", "is required for an api_key client: this gateway connects every API key as a user of its tenant (%s); name that user (on a key made before, its creator or a super admin names it), or create the key as that user (console, or the user's admin token)", option)
	return false, nil
}

// gatewayTool reports whether scopes are all Scopegate's own (admin power,
// introspection): such a client manages the gateway rather than calling an
// API, so it need not connect as a user. One API scope among them makes it
// an API key like any other.
func (h *Handler) gatewayTool(scopes []string) bool {
	for _, s := range scopes {
		if s != scope.Admin && s != scope.TenantAdmin && s != scope.Introspect && !h.holdsAdminScope([]string{s}) {
			return false
		}
	}
	return len(scopes) > 0
}

// addsScope reports whether next holds a scope prev does not.
func addsScope(prev, next []string) bool {
	for _, s := range next {
		if !slices.Contains(prev, s) {
			return true
		}
	}
	return false
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
