package admin

import (
	"context"
	"errors"
	"golang.org/x/text/unicode/norm"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/scopegate/scopegate/module/power"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/web"
)

// userView is a user as the admin API shows it (never its password hash).
type userView struct {
	ID          string    `json:"id"`
	TenantID    string    `json:"tenant_id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Email       string    `json:"email"`
	Admin       bool      `json:"admin"`
	SuperAdmin  bool      `json:"super_admin"`
	Disabled    bool      `json:"disabled"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func viewUser(u *store.User) userView {
	return userView{
		ID: u.ID, TenantID: u.TenantID, Username: u.Username, DisplayName: u.DisplayName, Email: u.Email,
		Admin: u.Admin, SuperAdmin: u.SuperAdmin, Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

// newUserBody is the body of POST /users.
type newUserBody struct {
	Username    *string `json:"username"`
	DisplayName *string `json:"display_name"`
	Email       *string `json:"email"`
	TenantID    *string `json:"tenant_id"`
	// Admin makes the user a tenant admin of its tenant.
	Admin *bool `json:"admin"`
	// SuperAdmin makes an admin of the default tenant a super admin (true
	// implies admin).
	SuperAdmin *bool `json:"super_admin"`
	// Password is write-only: stored as a bcrypt hash, never shown.
	Password *string `json:"password"`
}

// userPatchBody is the body of PATCH /users/{id}; absent members are kept.
type userPatchBody struct {
	DisplayName *string `json:"display_name"`
	Email       *string `json:"email"`
	Disabled    *bool   `json:"disabled"`
	// false also ends the super admin level.
	Admin      *bool `json:"admin"`
	SuperAdmin *bool `json:"super_admin"`
	// Password replaces the password ("" removes it: no password sign-in).
	Password *string `json:"password"`
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, c *caller) error {
	return writeTenantList(w, r, c, h.app.Store().ListUsers, viewUser)
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	var b newUserBody
	if err := decodeBody(w, r, &b, false); err != nil {
		return err
	}
	u := &store.User{ID: store.NewID(), TenantID: c.tenant}
	if b.TenantID != nil {
		u.TenantID = *b.TenantID
		if !c.sees(u.TenantID) {
			return forbidden("a tenant admin can only manage its own tenant")
		}
	}
	if b.Username != nil {
		// NFC, so "café" typed as e + U+0301 and as é is one name (and
		// the unique index sees them as one).
		u.Username = norm.NFC.String(strings.TrimSpace(*b.Username))
	}
	if b.DisplayName != nil {
		u.DisplayName = *b.DisplayName
	}
	if b.Email != nil {
		u.Email = *b.Email
	}
	var f fieldErrors
	setLevel(&f, u, b.Admin, b.SuperAdmin)
	// Who may do this comes before whether it is well formed.
	if !c.covers(power.OfUser(u)) {
		return forbidden("only a super admin may make a user a %s", power.OfUser(u).Level)
	}
	checkText(&f, "username", u.Username, 200, true)
	if mixesConfusableScripts(u.Username) {
		f.add("username", "mixes Latin, Greek and Cyrillic letters, which can pass for another user's name")
	}
	if why := lookAlike(u.Username); why != "" {
		f.add("username", "%s, which can pass for another user's name", why)
	}
	if other, err := h.app.Store().GetUser(r.Context(), u.Username); err == nil && other.TenantID == u.TenantID {
		f.add("username", "is the id of another user of the tenant: users are found by id or username")
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	checkProfile(&f, u)
	if b.Password != nil && *b.Password != "" {
		u.PasswordHash = hashPassword(&f, *b.Password)
	}
	if err := h.checkTenant(r.Context(), &f, u.TenantID); err != nil {
		return err
	}
	if err := f.err(); err != nil {
		return err
	}
	// A name differing from another user's only in letter case is refused
	// by the store, in the insert's transaction (UsernameCaseError).
	if err := h.app.Store().CreateUser(r.Context(), u, c.actor(u.TenantID)); err != nil {
		if ce, ok := errors.AsType[*store.UsernameCaseError](err); ok {
			return newProblem(http.StatusConflict, "tenant %q already has a user named %q, which differs only in letter case", u.TenantID, ce.Existing)
		}
		if errors.Is(err, store.ErrConflict) {
			return newProblem(http.StatusConflict, "tenant %q already has a user named %q", u.TenantID, u.Username)
		}
		return err
	}
	w.Header().Set("Location", "users/"+url.PathEscape(u.ID))
	setETag(w, u.UpdatedAt)
	writeJSON(w, http.StatusCreated, viewUser(u))
	return nil
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	u, err := h.loadUser(r.Context(), r.PathValue("id"), c)
	if err != nil {
		return err
	}
	if done, err := notModified(w, r, "user", u.UpdatedAt); done || err != nil {
		return err
	}
	setETag(w, u.UpdatedAt)
	writeJSON(w, http.StatusOK, viewUser(u))
	return nil
}

func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	u, err := h.loadUser(r.Context(), r.PathValue("id"), c)
	if err != nil {
		return err
	}
	var b userPatchBody
	if err := decodeBody(w, r, &b, false); err != nil {
		return err
	}
	// Who may do this comes before whether it is well formed (and is
	// decided again on the locked row below).
	if !c.covers(power.OfUser(u)) {
		return forbidden("only a super admin may change a %s", power.OfUser(u).Level)
	}
	var hash *string
	if b.Password != nil {
		// Hashed before the row is locked: bcrypt takes a while.
		var f fieldErrors
		hashed := ""
		if *b.Password != "" {
			hashed = hashPassword(&f, *b.Password)
		}
		if err := f.err(); err != nil {
			return err
		}
		hash = &hashed
	}
	// Decided on the row as the transaction reads it, so a user promoted
	// meanwhile is judged as it is now.
	u, err = h.app.Store().ChangeUser(r.Context(), u.ID, u.TenantID, c.actor(u.TenantID), hash, func(u *store.User) (string, error) {
		// On the locked row: the version named is the one changed.
		if err := precondition(r, "user", u.UpdatedAt); err != nil {
			return "", err
		}
		return editUser(c, u, &b)
	})
	if err != nil {
		return err
	}
	// As stored: the database keeps updated_at to the microsecond, and a
	// password change sets it once more, so the tag is the one a GET shows.
	if u, err = h.app.Store().GetUser(r.Context(), u.ID); err != nil {
		return err
	}
	setETag(w, u.UpdatedAt)
	writeJSON(w, http.StatusOK, viewUser(u))
	return nil
}

// editUser applies a PATCH body to u, a user as stored now, if the caller
// may: it must cover the user's power before the change (no resetting the
// password of, or disabling, a stronger admin) and after it (no promoting
// beyond its own). It returns the audit action.
func editUser(c *caller, u *store.User, b *userPatchBody) (string, error) {
	if !c.covers(power.OfUser(u)) {
		return "", forbidden("only a super admin may change a %s", power.OfUser(u).Level)
	}
	action := "user.update"
	if b.DisplayName != nil {
		u.DisplayName = *b.DisplayName
	}
	if b.Email != nil {
		u.Email = *b.Email
	}
	var f fieldErrors
	setLevel(&f, u, b.Admin, b.SuperAdmin)
	if !c.covers(power.OfUser(u)) {
		return "", forbidden("only a super admin may make a user a %s", power.OfUser(u).Level)
	}
	if b.Disabled != nil && *b.Disabled && c.super {
		u.DisabledBySuper = true // marked even when a tenant admin disabled it first
	}
	if b.Disabled != nil && *b.Disabled != u.Disabled {
		if u.DisabledBySuper && !c.super {
			return "", store.ErrDisabledBySuper
		}
		u.Disabled = *b.Disabled
		u.DisabledBySuper = u.Disabled && c.super
		action = "user.restore"
		if u.Disabled {
			action = "user.disable"
		}
	}
	checkProfile(&f, u)
	return action, f.err()
}

// revokeConsent forgets what a user approved for a client at the authorize
// endpoint (the next authorization asks again) and revokes the client's
// refresh tokens for the user.
func (h *Handler) revokeConsent(w http.ResponseWriter, r *http.Request, c *caller) error {
	u, err := h.manageableUser(r.Context(), r.PathValue("id"), c)
	if err != nil {
		return err
	}
	clientID := r.PathValue("client_id")
	if !validID(clientID) {
		return notFound("consent")
	}
	err = h.app.Store().RevokeConsent(r.Context(), u.ID, clientID, c.actor(u.TenantID))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("consent")
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// hashPassword hashes a new password, naming the field when it is weak.
func hashPassword(f *fieldErrors, password string) string {
	hash, err := web.HashPassword(password)
	if errors.Is(err, web.ErrWeakPassword) {
		f.add("password", "%s", err.Error())
		return ""
	}
	if err != nil {
		f.add("password", "could not be hashed")
	}
	return hash
}

// loadUser returns a user, as 404 when the caller may not see it.
func (h *Handler) loadUser(ctx context.Context, id string, c *caller) (*store.User, error) {
	if !validID(id) {
		return nil, notFound("user")
	}
	u, err := h.app.Store().GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !c.sees(u.TenantID)) {
		return nil, notFound("user")
	}
	return u, err
}

// manageableUser is loadUser for changes: a caller may change (reset the
// password of, disable, demote) only a user whose power it covers, else a
// tenant admin could take over a super admin's account.
func (h *Handler) manageableUser(ctx context.Context, id string, c *caller) (*store.User, error) {
	u, err := h.loadUser(ctx, id, c)
	if err != nil {
		return nil, err
	}
	if !c.covers(power.OfUser(u)) {
		return nil, forbidden("only a super admin may change a %s", power.OfUser(u).Level)
	}
	return u, nil
}

// setLevel applies the admin and super_admin members of a body to u: admin
// false ends both levels, super_admin true implies admin, and the super
// admin level exists only in the default tenant.
func setLevel(f *fieldErrors, u *store.User, admin, super *bool) {
	if admin != nil {
		u.Admin = *admin
		if !*admin {
			u.SuperAdmin = false
		}
	}
	if super != nil {
		switch {
		case !*super:
			u.SuperAdmin = false
		case admin != nil && !*admin:
			f.add("super_admin", "cannot be true with admin false")
		case u.TenantID != store.DefaultTenantID:
			f.add("super_admin", "only a user of the %q tenant can be a super admin", store.DefaultTenantID)
		default:
			u.Admin, u.SuperAdmin = true, true
		}
	}
}

// checkProfile validates the fields both POST and PATCH set.
func checkProfile(f *fieldErrors, u *store.User) {
	checkText(f, "display_name", u.DisplayName, 200, false)
	if u.Email == "" {
		return
	}
	checkText(f, "email", u.Email, 320, false)
	if a, err := mail.ParseAddress(u.Email); !f.has("email") && (err != nil || a.Address != u.Email || a.Name != "") {
		f.add("email", "must be a plain address such as ada@example.com")
	}
}

// lookAlike says why name could pass for another name a person reads the
// same ("" when it could not): compatibility characters (fullwidth ａｌｉｃｅ,
// ligatures, superscripts), which NFKC folds into plain ones (name is NFC,
// as usernames are stored, so a composed é is not one), and a
// zero-width joiner or non-joiner in a name of Latin, Greek or Cyrillic
// letters, which need none (the scripts that do, Arabic, Persian, Indic,
// and emoji sequences, keep them).
func lookAlike(name string) string {
	if norm.NFKC.String(name) != name {
		return "holds compatibility characters (fullwidth letters, ligatures, …) that read as plain ones"
	}
	if !strings.ContainsAny(name, "\u200c\u200d") {
		return ""
	}
	for _, r := range name {
		if unicode.IsLetter(r) && !unicode.In(r, unicode.Latin, unicode.Greek, unicode.Cyrillic) || unicode.Is(unicode.So, r) {
			return ""
		}
	}
	return "holds an invisible joiner among letters that join without one"
}

// checkShownName refuses a new client or app name that could pass for
// another on the consent page, which names the application by it alone:
// letters of more than one of Latin, Greek and Cyrillic, as for usernames
// ("Imagen Deskt\u043ep", with a Cyrillic о, is "Imagen Desktop" there). Only
// a name being set is checked, so a stored one never blocks other changes.
func checkShownName(f *fieldErrors, field, name string) {
	if mixesConfusableScripts(name) {
		f.add(field, "mixes Latin, Greek and Cyrillic letters, which can pass for another application's name")
	}
}

// mixesConfusableScripts reports whether name has letters of more than one
// of the Latin, Greek and Cyrillic scripts, whose look-alike letters (Latin
// o and Cyrillic о) would let a name pass for another (UTS #39's reason for
// restricting scripts). Other mixes, such as Latin with Han and Kana in a
// Japanese name, are fine.
func mixesConfusableScripts(name string) bool {
	var seen [3]bool
	for _, r := range name {
		for i, script := range []*unicode.RangeTable{unicode.Latin, unicode.Greek, unicode.Cyrillic} {
			if unicode.Is(script, r) {
				seen[i] = true
			}
		}
	}
	n := 0
	for _, s := range seen {
		if s {
			n++
		}
	}
	return n > 1
}
