package scope

import (
	"reflect"
	"testing"
)

func demo(t *testing.T) *Catalogue {
	t.Helper()
	c, err := NewCatalogue([]Scope{
		{Name: "application", Implies: []string{"application.read"}},
		{Name: "application.read"},
		{Name: "application.session", RequiredClaims: []string{"application_id"}},
		{Name: "a", Implies: []string{"b"}},
		{Name: "b", Implies: []string{"c"}},
		{Name: "c", Implies: []string{"a"}}, // a cycle must not loop forever
		{Name: "global", Legs: TwoLegged},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Implications are honoured transitively, and cycles terminate.
func TestSatisfiesFollowsImplications(t *testing.T) {
	c := demo(t)
	cases := []struct {
		granted  []string
		required string
		want     bool
	}{
		{[]string{"application"}, "application.read", true},
		{[]string{"application.read"}, "application", false},
		{[]string{"a"}, "c", true},
		{[]string{"c"}, "b", true},
		{[]string{"global"}, "application", false},
		{nil, "application", false},
	}
	for _, tc := range cases {
		if got := c.Satisfies(tc.granted, tc.required); got != tc.want {
			t.Errorf("Satisfies(%v, %q) = %v, want %v", tc.granted, tc.required, got, tc.want)
		}
	}
	if _, ok := c.Expand([]string{"application"})["application.read"]; !ok {
		t.Error("Expand misses an implied scope")
	}
}

// The catalogue refuses duplicates, bad names, dangling implications and bad legs.
func TestNewCatalogueErrors(t *testing.T) {
	for name, scopes := range map[string][]Scope{
		"duplicate":      {{Name: "x"}, {Name: "x"}},
		"builtin clash":  {{Name: Admin}},
		"space in name":  {{Name: "a b"}},
		"empty name":     {{Name: ""}},
		"unknown imply":  {{Name: "x", Implies: []string{"nope"}}},
		"legs out of 23": {{Name: "x", Legs: 4}},
	} {
		if _, err := NewCatalogue(scopes); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// Split drops duplicates and extra spaces; Unknown names what is missing.
func TestSplitAndUnknown(t *testing.T) {
	if got := Split("  a b  a c "); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("Split = %v", got)
	}
	if got := demo(t).Unknown([]string{"application", "nope"}); !reflect.DeepEqual(got, []string{"nope"}) {
		t.Errorf("Unknown = %v", got)
	}
}

// Legs parse and check tokens of each kind.
func TestLegs(t *testing.T) {
	for in, want := range map[string]Legs{"2": TwoLegged, "3": ThreeLegged, "any": AnyLegs, "": AnyLegs} {
		got, err := ParseLegs(in)
		if err != nil || got != want {
			t.Errorf("ParseLegs(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseLegs("4"); err == nil {
		t.Error("ParseLegs(4) accepted")
	}
	if !TwoLegged.Allows(2) || TwoLegged.Allows(3) || !AnyLegs.Allows(3) || ThreeLegged.Allows(2) {
		t.Error("Allows gave a wrong answer")
	}
}
