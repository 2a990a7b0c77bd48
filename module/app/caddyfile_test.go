package app_test

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/scope"
)

// fullCaddyfile sets every option of the global option once.
const fullCaddyfile = `scopegate {
	database postgres "host=db.internal user=sg dbname=sg sslmode=require" {
		max_connections 12
	}
	issuer https://auth.example.com
	audience https://api.example.com
	token_lifetime 15m
	leeway 5s
	master_key {env.SCOPEGATE_MASTER_KEY}
	master_key_file /etc/scopegate/master.key
	day_timezone Europe/Paris
	cache_size 5000
	poll_interval 250ms
	secret_grace 1d
	key_overlap 72h
	key_prepublish 15m
	scope demo.read "Read demo data"
	scope demo.write "Change demo data" {
		legs 3
		implies demo.read
		requires application_id tenant_hint
	}
	scope machine.only {
		legs 2
	}
	scope any.kind {
		legs any
	}
}`

var fullApp = &app.App{
	Database:      &app.Database{Driver: "postgres", DSN: "host=db.internal user=sg dbname=sg sslmode=require", MaxConnections: 12},
	Issuer:        "https://auth.example.com",
	Audience:      "https://api.example.com",
	TokenLifetime: caddy.Duration(15 * time.Minute),
	Leeway:        caddy.Duration(5 * time.Second),
	MasterKey:     "{env.SCOPEGATE_MASTER_KEY}",
	MasterKeyFile: "/etc/scopegate/master.key",
	DayTimezone:   "Europe/Paris",
	CacheSize:     5000,
	PollInterval:  caddy.Duration(250 * time.Millisecond),
	SecretGrace:   caddy.Duration(24 * time.Hour),
	KeyOverlap:    caddy.Duration(72 * time.Hour),
	KeyPrepublish: caddy.Duration(15 * time.Minute),
	Scopes: []scope.Scope{
		{Name: "demo.read", Description: "Read demo data"},
		{
			Name: "demo.write", Description: "Change demo data", Legs: scope.ThreeLegged,
			Implies: []string{"demo.read"}, RequiredClaims: []string{"application_id", "tenant_hint"},
		},
		{Name: "machine.only", Legs: scope.TwoLegged},
		{Name: "any.kind", Legs: scope.AnyLegs},
	},
}

// Every option of the scopegate global option lands in the matching field,
// and nothing else is set.
func TestUnmarshalCaddyfile(t *testing.T) {
	for name, tc := range map[string]struct {
		input string
		want  *app.App
	}{
		"bare option (zero config)": {`scopegate`, &app.App{}},
		"empty block":               {"scopegate {\n}", &app.App{}},
		"every option":              {fullCaddyfile, fullApp},
		"sqlite without path": {"scopegate {\n database sqlite\n}",
			&app.App{Database: &app.Database{Driver: "sqlite"}}},
		"sqlite with path": {"scopegate {\n database sqlite /var/lib/scopegate/sg.db\n}",
			&app.App{Database: &app.Database{Driver: "sqlite", DSN: "/var/lib/scopegate/sg.db"}}},
		"postgres with placeholder DSN": {"scopegate {\n database postgres {env.SCOPEGATE_DSN}\n}",
			&app.App{Database: &app.Database{Driver: "postgres", DSN: "{env.SCOPEGATE_DSN}"}}},
		"postgres URL DSN": {"scopegate {\n database postgres postgres://sg@db/sg?sslmode=disable\n}",
			&app.App{Database: &app.Database{Driver: "postgres", DSN: "postgres://sg@db/sg?sslmode=disable"}}},
		"sqlite pool size": {"scopegate {\n database sqlite {\n  max_connections 2\n }\n}",
			&app.App{Database: &app.Database{Driver: "sqlite", MaxConnections: 2}}},
		"postgres empty block": {"scopegate {\n database postgres {env.SCOPEGATE_DSN} {\n }\n}",
			&app.App{Database: &app.Database{Driver: "postgres", DSN: "{env.SCOPEGATE_DSN}"}}},
		"issuer":             {"scopegate {\n issuer https://a.example\n}", &app.App{Issuer: "https://a.example"}},
		"audience":           {"scopegate {\n audience urn:api\n}", &app.App{Audience: "urn:api"}},
		"token_lifetime":     {"scopegate {\n token_lifetime 2h\n}", &app.App{TokenLifetime: caddy.Duration(2 * time.Hour)}},
		"leeway":             {"scopegate {\n leeway 1s\n}", &app.App{Leeway: caddy.Duration(time.Second)}},
		"master_key":         {"scopegate {\n master_key BwcHBw==\n}", &app.App{MasterKey: "BwcHBw=="}},
		"master_key_file":    {"scopegate {\n master_key_file /k\n}", &app.App{MasterKeyFile: "/k"}},
		"day_timezone":       {"scopegate {\n day_timezone UTC\n}", &app.App{DayTimezone: "UTC"}},
		"cache_size":         {"scopegate {\n cache_size 1\n}", &app.App{CacheSize: 1}},
		"min_gomaxprocs":     {"scopegate {\n min_gomaxprocs 8\n}", &app.App{MinGOMAXPROCS: 8}},
		"min_gomaxprocs off": {"scopegate {\n min_gomaxprocs off\n}", &app.App{MinGOMAXPROCS: -1}},
		"min_gc_heap":        {"scopegate {\n min_gc_heap 128MiB\n}", &app.App{MinGCHeap: 128 << 20}},
		"min_gc_heap bytes":  {"scopegate {\n min_gc_heap 1000000\n}", &app.App{MinGCHeap: 1_000_000}},
		"min_gc_heap off":    {"scopegate {\n min_gc_heap off\n}", &app.App{MinGCHeap: -1}},
		"poll_interval":      {"scopegate {\n poll_interval 2s\n}", &app.App{PollInterval: caddy.Duration(2 * time.Second)}},
		"secret_grace":       {"scopegate {\n secret_grace 90m\n}", &app.App{SecretGrace: caddy.Duration(90 * time.Minute)}},
		"key_overlap":        {"scopegate {\n key_overlap 3d\n}", &app.App{KeyOverlap: caddy.Duration(72 * time.Hour)}},
		"key_prepublish":     {"scopegate {\n key_prepublish 2s\n}", &app.App{KeyPrepublish: caddy.Duration(2 * time.Second)}},
		"allow_trailers":     {"scopegate {\n allow_trailers X-Checksum Grpc-Status\n}", &app.App{AllowTrailers: []string{"X-Checksum", "Grpc-Status"}}},
		"scope with name only": {"scopegate {\n scope a.b\n}",
			&app.App{Scopes: []scope.Scope{{Name: "a.b"}}}},
		"scope with description and empty block": {"scopegate {\n scope a.b \"Does A to B\" {\n }\n}",
			&app.App{Scopes: []scope.Scope{{Name: "a.b", Description: "Does A to B"}}}},
		"scope requires only": {"scopegate {\n scope x {\n  requires application_id\n }\n}",
			&app.App{Scopes: []scope.Scope{{Name: "x", RequiredClaims: []string{"application_id"}}}}},
		"scope clients": {"scopegate {\n scope batch_import {\n  clients batch-import importer\n }\n}",
			&app.App{Scopes: []scope.Scope{{Name: "batch_import", Clients: []string{"batch-import", "importer"}}}}},
		"scope implies several": {"scopegate {\n scope r\n scope w\n scope all {\n  implies r w\n }\n}",
			&app.App{Scopes: []scope.Scope{{Name: "r"}, {Name: "w"}, {Name: "all", Implies: []string{"r", "w"}}}}},
	} {
		t.Run(name, func(t *testing.T) {
			got := new(app.App)
			if err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input)); err != nil {
				t.Fatalf("UnmarshalCaddyfile: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// Every malformed block is refused with a message naming the problem and
// the line it is on.
func TestUnmarshalCaddyfileErrors(t *testing.T) {
	block := func(lines ...string) string {
		return "scopegate {\n" + strings.Join(lines, "\n") + "\n}"
	}
	for name, tc := range map[string]struct {
		input string
		want  string // substring of the error
		line  int
	}{
		"argument after the option name": {"scopegate extra {\n}", "wrong argument count", 1},
		"unknown option":                 {block("frobnicate 1"), `unknown scopegate option "frobnicate"`, 2},
		"duplicate issuer":               {block("issuer https://a", "issuer https://b"), `duplicate option "issuer"`, 3},
		"duplicate database":             {block("database sqlite", "database sqlite /x"), `duplicate option "database"`, 3},
		"duplicate cache_size":           {block("cache_size 1", "cache_size 2"), `duplicate option "cache_size"`, 3},

		"database without driver":      {block("database"), "database takes a driver", 2},
		"database with extra args":     {block("database sqlite /a /b"), "database takes a driver", 2},
		"database bad driver":          {block("database mysql root@/sg"), `unknown database driver "mysql"`, 2},
		"database postgres, no DSN":    {block("database postgres"), "database postgres needs a DSN", 2},
		"max_connections zero":         {block("database postgres x {", "max_connections 0", "}"), `database max_connections: "0" is not a positive number`, 3},
		"max_connections not a number": {block("database postgres x {", "max_connections many", "}"), `database max_connections: "many" is not a positive number`, 3},
		"max_connections missing":      {block("database postgres x {", "max_connections", "}"), "wrong argument count", 3},
		"max_connections extra":        {block("database postgres x {", "max_connections 1 2", "}"), "wrong argument count", 3},
		"max_connections twice":        {block("database sqlite {", "max_connections 1", "max_connections 2", "}"), `database: duplicate option "max_connections"`, 4},
		"database unknown sub-option":  {block("database postgres x {", "pool 3", "}"), `database: unknown option "pool"`, 3},
		"issuer missing":               {block("issuer"), "wrong argument count", 2},
		"issuer extra":                 {block("issuer https://a https://b"), "wrong argument count", 2},
		"audience missing":             {block("audience"), "wrong argument count", 2},
		"master_key missing":           {block("master_key"), "wrong argument count", 2},
		"master_key extra":             {block("master_key a b"), "wrong argument count", 2},
		"master_key_file missing":      {block("master_key_file"), "wrong argument count", 2},
		"day_timezone extra":           {block("day_timezone America/New_York Europe/Paris"), "wrong argument count", 2},
		"token_lifetime missing":       {block("token_lifetime"), "wrong argument count", 2},
		"token_lifetime extra":         {block("token_lifetime 1h 2h"), "wrong argument count", 2},
		"token_lifetime not duration":  {block("token_lifetime soon"), `token_lifetime: "soon" is not a positive duration`, 2},
		"token_lifetime zero":          {block("token_lifetime 0s"), `token_lifetime: "0s" is not a positive duration`, 2},
		"leeway negative":              {block("leeway -5s"), `leeway: "-5s" is not a positive duration`, 2},
		"poll_interval bad":            {block("poll_interval fast"), `poll_interval: "fast" is not a positive duration`, 2},
		"secret_grace zero":            {block("secret_grace 0"), `secret_grace: "0" is not a positive duration`, 2},
		"key_overlap bad unit":         {block("key_overlap 3w"), `key_overlap: "3w" is not a positive duration`, 2},
		"key_overlap missing":          {block("key_overlap"), "wrong argument count", 2},
		"key_prepublish zero":          {block("key_prepublish 0s"), `key_prepublish: "0s" is not a positive duration`, 2},
		"cache_size zero":              {block("cache_size 0"), `cache_size: "0" is not a positive number`, 2},
		"cache_size negative":          {block("cache_size -10"), `cache_size: "-10" is not a positive number`, 2},
		"cache_size not a number":      {block("cache_size lots"), `cache_size: "lots" is not a positive number`, 2},
		"cache_size missing":           {block("cache_size"), "wrong argument count", 2},
		"min_gomaxprocs zero":          {block("min_gomaxprocs 0"), `min_gomaxprocs: "0" is not a number from 1 to 1024, or off`, 2},
		"min_gomaxprocs word":          {block("min_gomaxprocs many"), `min_gomaxprocs: "many" is not a number`, 2},
		"min_gomaxprocs two args":      {block("min_gomaxprocs 8 16"), "wrong argument count", 2},
		"min_gc_heap zero":             {block("min_gc_heap 0"), `min_gc_heap: "0" is not a size from 1 byte to 1TiB`, 2},
		"min_gc_heap word":             {block("min_gc_heap lots"), `min_gc_heap: "lots" is not a size`, 2},
		"min_gc_heap negative":         {block("min_gc_heap -64MiB"), `min_gc_heap: "-64MiB" is not a size`, 2},
		"min_gc_heap too big":          {block("min_gc_heap 2TiB"), `min_gc_heap: "2TiB" is not a size`, 2},
		"min_gc_heap two args":         {block("min_gc_heap 64MiB 1"), "wrong argument count", 2},

		"scope without name":        {block("scope"), "scope takes a name", 2},
		"scope with too many args":  {block(`scope a "desc" more`), "scope takes a name", 2},
		"scope name with space":     {block(`scope "a b"`), "RFC 6749 does not allow", 2},
		"scope name with quote":     {block(`scope "a\"b"`), "RFC 6749 does not allow", 2},
		"scope name empty":          {block(`scope ""`), "scope name is empty", 2},
		"scope defined twice":       {block("scope a.b", `scope a.b "again"`), `scope "a.b" is defined twice`, 3},
		"scope bad legs":            {block("scope a {", "legs 4", "}"), "scope a: legs must be 2, 3 or any", 3},
		"scope empty legs (unset)":  {block("scope a {", `legs ""`, "}"), "scope a: legs must be 2, 3 or any", 3},
		"scope legs missing":        {block("scope a {", "legs", "}"), "wrong argument count", 3},
		"scope legs extra":          {block("scope a {", "legs 2 3", "}"), "wrong argument count", 3},
		"scope unknown sub-option":  {block("scope a {", "colour red", "}"), `scope a: unknown option "colour"`, 3},
		"scope duplicate legs":      {block("scope a {", "legs 2", "legs 3", "}"), `scope a: duplicate option "legs"`, 4},
		"scope duplicate implies":   {block("scope b", "scope a {", "implies b", "implies b", "}"), `scope a: duplicate option "implies"`, 5},
		"scope empty implies":       {block("scope a {", "implies", "}"), "wrong argument count", 3},
		"scope empty requires":      {block("scope a {", "requires", "}"), "wrong argument count", 3},
		"scope empty clients":       {block("scope a {", "clients", "}"), "wrong argument count", 3},
		"allow_trailers empty":      {block("allow_trailers"), "wrong argument count", 2},
		"error after a valid scope": {block("scope a {", "legs 2", "}", "bogus"), `unknown scopegate option "bogus"`, 5},
	} {
		t.Run(name, func(t *testing.T) {
			err := new(app.App).UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.input)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			if at := ", at Testfile:" + strconv.Itoa(tc.line); !strings.Contains(err.Error(), at) {
				t.Fatalf("error %q does not point at line %d", err, tc.line)
			}
		})
	}
}

// The global option yields the "scopegate" app, and its JSON decodes back
// into the very App the Caddyfile describes.
func TestParseGlobalOptionJSONRoundTrip(t *testing.T) {
	for _, input := range []string{fullCaddyfile, "scopegate", "scopegate {\n database sqlite\n scope a {\n  legs 2\n }\n}"} {
		direct := new(app.App)
		if err := direct.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err != nil {
			t.Fatal(err)
		}
		v, err := app.ParseGlobalOption(caddyfile.NewTestDispenser(input))
		if err != nil {
			t.Fatalf("parseGlobalOption: %v", err)
		}
		hApp, ok := v.(httpcaddyfile.App)
		if !ok {
			t.Fatalf("parseGlobalOption returned %T, want httpcaddyfile.App", v)
		}
		if hApp.Name != "scopegate" {
			t.Fatalf("app name = %q, want scopegate", hApp.Name)
		}
		back := new(app.App)
		if err := json.Unmarshal(hApp.Value, back); err != nil {
			t.Fatalf("unmarshal %s: %v", hApp.Value, err)
		}
		if !reflect.DeepEqual(back, direct) {
			t.Fatalf("JSON round trip changed the app:\njson %s\ngot  %+v\nwant %+v", hApp.Value, back, direct)
		}
	}
	// A parse error surfaces from the global option too, with no app.
	if v, err := app.ParseGlobalOption(caddyfile.NewTestDispenser("scopegate {\n nope\n}")); err == nil || v != nil {
		t.Fatalf("bad block: got %v, %v", v, err)
	}
}

// The module is registered under the ID handlers look it up by.
func TestModuleInfo(t *testing.T) {
	info := app.App{}.CaddyModule()
	if info.ID != "scopegate" {
		t.Fatalf("module ID = %q", info.ID)
	}
	if _, ok := info.New().(*app.App); !ok {
		t.Fatalf("New() returns %T, want *app.App", info.New())
	}
	if mod, err := caddy.GetModule("scopegate"); err != nil || mod.ID != "scopegate" {
		t.Fatalf("GetModule(scopegate) = %v, %v", mod, err)
	}
}
