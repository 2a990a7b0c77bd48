package web

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed templates/layout.html static/style.css
var assets embed.FS

// Pages parses each page template matching pattern in fsys into its own set
// together with the shared layout, keyed by file name without extension.
// A page defines "title", "content" and optionally "nav"; funcs add helpers.
func Pages(fsys fs.FS, pattern string, funcs template.FuncMap) (map[string]*template.Template, error) {
	css, err := assets.ReadFile("static/style.css")
	if err != nil {
		return nil, err
	}
	base := template.New("layout").Funcs(template.FuncMap{
		"styles": func() template.CSS { return template.CSS(css) },
	}).Funcs(funcs)
	if base, err = base.ParseFS(assets, "templates/layout.html"); err != nil {
		return nil, err
	}
	files, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if t, err = t.ParseFS(fsys, f); err != nil {
			return nil, fmt.Errorf("page %s: %w", f, err)
		}
		pages[strings.TrimSuffix(path.Base(f), path.Ext(f))] = t
	}
	return pages, nil
}

// Render writes a page with the security headers every page carries.
// formActions are extra origins forms on the page may post or redirect to
// (CSP form-action also governs the redirect after a post).
func Render(w http.ResponseWriter, status int, page *template.Template, data any, formActions ...string) error {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// same-origin, not no-referrer: under no-referrer browsers send
	// "Origin: null" with the page's own form posts, which SameOrigin refuses.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "+
		"form-action 'self'"+joinSources(formActions)+"; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	return page.ExecuteTemplate(w, "layout", data)
}

func joinSources(list []string) string {
	var b strings.Builder
	for _, s := range list {
		b.WriteByte(' ')
		b.WriteString(s)
	}
	return b.String()
}
