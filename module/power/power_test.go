package power

import (
	"errors"
	"testing"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
)

const def = store.DefaultTenantID

func catalogue(t *testing.T) *scope.Catalogue {
	t.Helper()
	cat, err := scope.NewCatalogue([]scope.Scope{
		{Name: "demo.read"},
		{Name: "ops", Implies: []string{scope.TenantAdmin}}, // implies an admin scope
		{Name: "root", Implies: []string{"ops", scope.Admin}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// Covers: a super admin covers everything; a tenant admin covers no power
// and its own tenant's admins; nobody covers nothing but no power either.
func TestCovers(t *testing.T) {
	acme, globex := TenantAdmin("acme"), TenantAdmin("globex")
	for _, tc := range []struct {
		p, q Power
		want bool
	}{
		{SuperAdmin, SuperAdmin, true},
		{SuperAdmin, acme, true},
		{SuperAdmin, Nothing, true},
		{acme, Nothing, true},
		{acme, acme, true},
		{acme, globex, false},
		{acme, SuperAdmin, false},
		{TenantAdmin(def), SuperAdmin, false},
		{Nothing, Nothing, false},
		{Nothing, acme, false},
	} {
		if got := tc.p.Covers(tc.q); got != tc.want {
			t.Errorf("%+v covers %+v = %v, want %v", tc.p, tc.q, got, tc.want)
		}
	}
	if TenantAdmin("") != Nothing {
		t.Error("a tenant admin of no tenant has power")
	}
}

// Min: the weaker; tenant admins of different tenants share nothing.
func TestMin(t *testing.T) {
	acme, globex := TenantAdmin("acme"), TenantAdmin("globex")
	for _, tc := range []struct{ a, b, want Power }{
		{SuperAdmin, SuperAdmin, SuperAdmin},
		{SuperAdmin, acme, acme},
		{acme, SuperAdmin, acme},
		{acme, acme, acme},
		{acme, globex, Nothing},
		{Nothing, SuperAdmin, Nothing},
		{SuperAdmin, Nothing, Nothing},
	} {
		if got := Min(tc.a, tc.b); got != tc.want {
			t.Errorf("Min(%+v, %+v) = %+v, want %+v", tc.a, tc.b, got, tc.want)
		}
	}
}

// A user's power: super only with the level in the default tenant, a
// tenant admin of its own tenant otherwise, none without the admin flag;
// disabled users have their flags (OfUser) but no power now (Active).
func TestUserPower(t *testing.T) {
	for name, tc := range map[string]struct {
		u            *store.User
		flags, power Power
	}{
		"nil":                      {nil, Nothing, Nothing},
		"plain":                    {&store.User{TenantID: def}, Nothing, Nothing},
		"super flag without admin": {&store.User{TenantID: def, SuperAdmin: true}, Nothing, Nothing},
		"default admin":            {&store.User{TenantID: def, Admin: true}, TenantAdmin(def), TenantAdmin(def)},
		"default super":            {&store.User{TenantID: def, Admin: true, SuperAdmin: true}, SuperAdmin, SuperAdmin},
		"super flag elsewhere":     {&store.User{TenantID: "acme", Admin: true, SuperAdmin: true}, TenantAdmin("acme"), TenantAdmin("acme")},
		"acme admin":               {&store.User{TenantID: "acme", Admin: true}, TenantAdmin("acme"), TenantAdmin("acme")},
		"disabled super":           {&store.User{TenantID: def, Admin: true, SuperAdmin: true, Disabled: true}, SuperAdmin, Nothing},
	} {
		if got := OfUser(tc.u); got != tc.flags {
			t.Errorf("%s: OfUser = %+v, want %+v", name, got, tc.flags)
		}
		if got := Active(tc.u); got != tc.power {
			t.Errorf("%s: Active = %+v, want %+v", name, got, tc.power)
		}
	}
	if ForUser(def, true, true) != SuperAdmin || ForUser("acme", true, true) != TenantAdmin("acme") || ForUser(def, false, false) != Nothing {
		t.Error("ForUser disagrees with OfUser")
	}
}

// Needed (to grant or manage) and Granted (to a token) with implied scopes:
// scopegate.admin needs a super admin anywhere but makes one only in the
// default tenant.
func TestScopePower(t *testing.T) {
	cat := catalogue(t)
	for name, tc := range map[string]struct {
		scopes          []string
		tenant          string
		needed, granted Power
	}{
		"plain":                {[]string{"demo.read"}, def, Nothing, Nothing},
		"admin in default":     {[]string{scope.Admin}, def, SuperAdmin, SuperAdmin},
		"admin in acme":        {[]string{scope.Admin}, "acme", SuperAdmin, TenantAdmin("acme")},
		"tenant admin":         {[]string{"demo.read", scope.TenantAdmin}, "acme", TenantAdmin("acme"), TenantAdmin("acme")},
		"implies tenant admin": {[]string{"ops"}, "acme", TenantAdmin("acme"), TenantAdmin("acme")},
		"implies admin":        {[]string{"root"}, def, SuperAdmin, SuperAdmin},
		"no tenant":            {[]string{scope.TenantAdmin}, "", Nothing, Nothing},
	} {
		if got := Needed(cat, tc.scopes, tc.tenant); got != tc.needed {
			t.Errorf("%s: Needed = %+v, want %+v", name, got, tc.needed)
		}
		if got := Granted(cat, tc.scopes, tc.tenant); got != tc.granted {
			t.Errorf("%s: Granted = %+v, want %+v", name, got, tc.granted)
		}
	}
	for s, want := range map[string]bool{"demo.read": false, scope.Admin: true, scope.TenantAdmin: true, "ops": true, "root": true, "unknown": false} {
		if IsAdminScope(cat, s) != want {
			t.Errorf("IsAdminScope(%q) = %v", s, !want)
		}
	}
}

// Of: the one computation behind every caller.
func TestOf(t *testing.T) {
	cat := catalogue(t)
	client := func(tenant string, scopes ...string) *store.Client {
		return &store.Client{ID: "sg_x", TenantID: tenant, AllowedScopes: scopes}
	}
	superUser := &store.User{ID: "u-super", TenantID: def, Admin: true, SuperAdmin: true}
	defAdmin := &store.User{ID: "u-def", TenantID: def, Admin: true}
	acmeAdmin := &store.User{ID: "u-acme", TenantID: "acme", Admin: true}
	plain := &store.User{ID: "u-plain", TenantID: def}
	off := &store.User{ID: "u-off", TenantID: def, Admin: true, SuperAdmin: true, Disabled: true}
	for name, tc := range map[string]struct {
		g    Grounds
		want Power
		err  error
	}{
		// 2-legged tokens: the scopes, the client now, the creator.
		"bootstrap client":            {Grounds{Scopes: []string{scope.Admin}, TenantID: def, Client: client(def, scope.Admin)}, SuperAdmin, nil},
		"admin client of acme":        {Grounds{Scopes: []string{scope.Admin}, TenantID: "acme", Client: client("acme", scope.Admin)}, TenantAdmin("acme"), nil},
		"tenant admin client":         {Grounds{Scopes: []string{scope.TenantAdmin}, TenantID: "acme", Client: client("acme", scope.TenantAdmin)}, TenantAdmin("acme"), nil},
		"no admin scope":              {Grounds{Scopes: []string{"demo.read"}, TenantID: def, Client: client(def, scope.Admin)}, Nothing, ErrNoAdminScope},
		"scope taken from the client": {Grounds{Scopes: []string{scope.Admin}, TenantID: def, Client: client(def, "demo.read")}, Nothing, ErrNoAdminScope},
		"narrowed client":             {Grounds{Scopes: []string{scope.Admin}, TenantID: def, Client: client(def, scope.TenantAdmin)}, TenantAdmin(def), nil},
		"client gone":                 {Grounds{Scopes: []string{scope.Admin}, TenantID: def}, Nothing, ErrClient},
		"client disabled":             {Grounds{Scopes: []string{scope.Admin}, TenantID: def, Client: &store.Client{TenantID: def, AllowedScopes: []string{scope.Admin}, Disabled: true}}, Nothing, ErrClient},
		"client moved":                {Grounds{Scopes: []string{scope.Admin}, TenantID: def, Client: client("acme", scope.Admin)}, Nothing, ErrClient},
		"no tenant":                   {Grounds{Scopes: []string{scope.TenantAdmin}, Client: client("", scope.TenantAdmin)}, Nothing, ErrNoAdminScope},
		"super creator":               {Grounds{Scopes: []string{scope.Admin}, TenantID: def, Client: client(def, scope.Admin), Lineage: store.Lineage{CreatorID: superUser.ID, Creator: superUser}}, SuperAdmin, nil},
		"super creator, acme key":     {Grounds{Scopes: []string{scope.TenantAdmin}, TenantID: "acme", Client: client("acme", scope.TenantAdmin), Lineage: store.Lineage{CreatorID: superUser.ID, Creator: superUser}}, TenantAdmin("acme"), nil},
		"demoted creator":             {Grounds{Scopes: []string{scope.Admin}, TenantID: def, Client: client(def, scope.Admin), Lineage: store.Lineage{CreatorID: defAdmin.ID, Creator: defAdmin}}, TenantAdmin(def), nil},
		"creator no admin":            {Grounds{Scopes: []string{scope.TenantAdmin}, TenantID: def, Client: client(def, scope.TenantAdmin), Lineage: store.Lineage{CreatorID: plain.ID, Creator: plain}}, Nothing, ErrCreator},
		"creator disabled":            {Grounds{Scopes: []string{scope.Admin}, TenantID: def, Client: client(def, scope.Admin), Lineage: store.Lineage{CreatorID: off.ID, Creator: off}}, Nothing, ErrCreator},
		"creator gone":                {Grounds{Scopes: []string{scope.TenantAdmin}, TenantID: "acme", Client: client("acme", scope.TenantAdmin), Lineage: store.Lineage{CreatorID: "u-gone"}}, Nothing, ErrCreator},
		"creator of another tenant":   {Grounds{Scopes: []string{scope.TenantAdmin}, TenantID: "globex", Client: client("globex", scope.TenantAdmin), Lineage: store.Lineage{CreatorID: acmeAdmin.ID, Creator: acmeAdmin}}, Nothing, ErrCreator},
		// Clients made with other clients' tokens: no more than those now.
		"super maker":             {Grounds{Scopes: []string{scope.Admin}, TenantID: def, Client: client(def, scope.Admin), Lineage: store.Lineage{Owners: []*store.Client{client(def, scope.Admin)}}}, SuperAdmin, nil},
		"tenant admin maker":      {Grounds{Scopes: []string{scope.Admin}, TenantID: def, Client: client(def, scope.Admin), Lineage: store.Lineage{Owners: []*store.Client{client(def, scope.TenantAdmin)}}}, TenantAdmin(def), nil},
		"maker without admin":     {Grounds{Scopes: []string{scope.Admin}, TenantID: def, Client: client(def, scope.Admin), Lineage: store.Lineage{Owners: []*store.Client{client(def, "demo.read")}}}, Nothing, ErrOwnerClient},
		"maker of another tenant": {Grounds{Scopes: []string{scope.TenantAdmin}, TenantID: "globex", Client: client("globex", scope.TenantAdmin), Lineage: store.Lineage{Owners: []*store.Client{client("acme", scope.TenantAdmin)}}}, Nothing, ErrOwnerClient},
		"maker disabled": {Grounds{Scopes: []string{scope.Admin}, TenantID: def, Client: client(def, scope.Admin),
			Lineage: store.Lineage{Owners: []*store.Client{client(def, scope.Admin), {TenantID: def, AllowedScopes: []string{scope.Admin}, Disabled: true}}}}, Nothing, ErrOwnerClient},
		"maker gone": {Grounds{Scopes: []string{scope.Admin}, TenantID: def, Client: client(def, scope.Admin), Lineage: store.Lineage{Broken: true}}, Nothing, ErrOwnerClient},
		// User-bound tokens: no more than the user.
		"super user token":         {Grounds{Scopes: []string{scope.Admin}, TenantID: def, Client: client(def, scope.Admin), User: superUser}, SuperAdmin, nil},
		"default admin token":      {Grounds{Scopes: []string{scope.Admin}, TenantID: def, Client: client(def, scope.Admin), User: defAdmin}, TenantAdmin(def), nil},
		"super user, tenant scope": {Grounds{Scopes: []string{scope.TenantAdmin}, TenantID: def, Client: client(def, scope.TenantAdmin), User: superUser}, TenantAdmin(def), nil},
		"acme admin token":         {Grounds{Scopes: []string{scope.Admin}, TenantID: "acme", Client: client("acme", scope.Admin), User: acmeAdmin}, TenantAdmin("acme"), nil},
		"plain user token":         {Grounds{Scopes: []string{scope.Admin}, TenantID: def, Client: client(def, scope.Admin), User: plain}, Nothing, ErrUser},
		"disabled user token":      {Grounds{Scopes: []string{scope.Admin}, TenantID: def, Client: client(def, scope.Admin), User: off}, Nothing, ErrUser},
		"user of another tenant":   {Grounds{Scopes: []string{scope.Admin}, TenantID: "acme", Client: client("acme", scope.Admin), User: superUser}, Nothing, ErrUser},
		// Console sessions: the user alone, exactly as its token would be.
		"super session":    {Grounds{Session: true, User: superUser}, SuperAdmin, nil},
		"default session":  {Grounds{Session: true, User: defAdmin}, TenantAdmin(def), nil},
		"acme session":     {Grounds{Session: true, User: acmeAdmin}, TenantAdmin("acme"), nil},
		"plain session":    {Grounds{Session: true, User: plain}, Nothing, ErrUser},
		"disabled session": {Grounds{Session: true, User: off}, Nothing, ErrUser},
		"no user session":  {Grounds{Session: true}, Nothing, ErrUser},
		// The command line: the operator already holds config and database.
		"command line": {Grounds{Local: true}, SuperAdmin, nil},
	} {
		got, err := Of(cat, tc.g)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%s: Of = %+v, %v; want %+v, %v", name, got, err, tc.want, tc.err)
		}
	}
}
