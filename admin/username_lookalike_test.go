package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Usernames that a reader takes for one are one (a red-team finding: each
// of these pairs got two users): "café" typed with é (NFC) and with e +
// U+0301 (NFD) are stored in NFC, so the second is 409, and a sign-in or
// lookup typed either way finds the user; a name mixing Latin with Cyrillic
// letters (rооt with Cyrillic о) is 400 on the username; one differing from
// another only in letter case, in any script, is 409; compatibility characters
// (fullwidth letters, ligatures) and a zero-width joiner among Latin letters
// are 400. A Japanese name mixing Han and Katakana,
// Latin letters with digits, Persian with its non-joiner and an emoji
// sequence are fine.
func TestUsernamesThatLookAlike(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		create := func(name string) *httptest.ResponseRecorder {
			return e.do("POST", "/users", e.super, map[string]any{"username": name})
		}
		nfc := decode[userView](t, e.want(create("caf\u00e9"), http.StatusCreated))
		if p := problemOf(t, create("cafe\u0301"), http.StatusConflict); !strings.Contains(p.Detail, "already has a user named") {
			t.Errorf("the NFD spelling of an existing name: %q", p.Detail)
		}
		if u, err := e.app.Store().FindUser(ctx, store.DefaultTenantID, "cafe\u0301"); err != nil || u.ID != nfc.ID {
			t.Errorf("looking up the NFD spelling: %v, %v; want the NFC user", u, err)
		}

		p := problemOf(t, create("r\u043e\u043et2x"), http.StatusBadRequest)
		if !slices.Contains(fields(p), "username") {
			t.Errorf("Latin mixed with Cyrillic: %+v, want a username field error", p)
		}

		e.want(create("root2x"), http.StatusCreated)
		if p := problemOf(t, create("Root2x"), http.StatusConflict); !strings.Contains(p.Detail, `"root2x"`) || !strings.Contains(p.Detail, "letter case") {
			t.Errorf("a name differing only in case: %q", p.Detail)
		}
		// Any script's case, on either database (SQLite's lower() folds
		// only ASCII).
		for _, pair := range [][2]string{{"élodie", "Élodie"}, {"мария", "Мария"}, {"νίκη", "Νίκη"}} {
			e.want(create(pair[0]), http.StatusCreated)
			if p := problemOf(t, create(pair[1]), http.StatusConflict); !strings.Contains(p.Detail, pair[0]) || !strings.Contains(p.Detail, "letter case") {
				t.Errorf("%s next to %s: %q", pair[1], pair[0], p.Detail)
			}
		}
		for _, ok := range []string{"山田タロウ", "ada2", "ada.lovelace@example.com", "می\u200cخواهم", "👩\u200d💻dev"} {
			e.want(create(ok), http.StatusCreated)
		}
		// Compatibility characters (fullwidth ａｌｉｃｅ, the ligature ﬁ) and a
		// zero-width joiner among Latin letters read as a plain name.
		for _, bad := range []string{"\uff41\uff4c\uff49\uff43\uff45", "\ufb01ona", "a\u200dlice", "bo\u200cb"} {
			p := problemOf(t, create(bad), http.StatusBadRequest)
			if !slices.Contains(fields(p), "username") {
				t.Errorf("%+q: %+v, want a username field error", bad, p)
			}
		}
	})
}
