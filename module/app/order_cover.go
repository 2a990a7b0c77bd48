package app

import (
	"reflect"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// pathsOf returns a path matcher's patterns. Caddy provisions matchers as
// pointers (*MatchPath) while a hand-built route may hold values: both
// count (the check missed `handle /* { reverse_proxy }` before a guard as
// a catch-all, so a guarded route proxied every request with no token:
// config red team).
func pathsOf(m any) (caddyhttp.MatchPath, bool) {
	switch p := m.(type) {
	case caddyhttp.MatchPath:
		return p, true
	case *caddyhttp.MatchPath:
		if p != nil {
			return *p, true
		}
	}
	return nil, false
}

// hostsOf returns a host matcher's hosts, pointer or value.
func hostsOf(m any) (caddyhttp.MatchHost, bool) {
	switch h := m.(type) {
	case caddyhttp.MatchHost:
		return h, true
	case *caddyhttp.MatchHost:
		if h != nil {
			return *h, true
		}
	}
	return nil, false
}

// effective is what a route with matcher sets own matches, compared with
// its neighbours: its own matchers, or its block's when it has none. Of the
// block's, only the hosts are added to its own: inside handle_path the inner
// path matchers see the path with the prefix stripped (a review), but the
// host is the site's.
func effective(own, within caddyhttp.MatcherSets) caddyhttp.MatcherSets {
	if len(own) == 0 {
		return within
	}
	var out caddyhttp.MatcherSets
	for _, w := range within {
		var hosts caddyhttp.MatcherSet
		for _, m := range w {
			if isHost(m) {
				hosts = append(hosts, m)
			}
		}
		if len(hosts) == 0 {
			return own // some set of the block names no host
		}
		for _, o := range own {
			out = append(out, append(slices.Clone(hosts), o...))
		}
	}
	if len(out) == 0 {
		return own
	}
	return out
}

// proxiedBy is a set of requests the route at proxies; before lists what
// earlier members of its handle group match (only the first member that
// matches a request runs).
type proxiedBy struct {
	at     string
	sets   caddyhttp.MatcherSets
	before []caddyhttp.MatcherSets
}

// shadows reports whether p proxies every request a gate route matching
// gate gets: it covers them, and no earlier member of its group may take
// some of them first.
func (p proxiedBy) shadows(gate caddyhttp.MatcherSets) bool {
	if !covers(p.sets, gate) {
		return false
	}
	for _, b := range p.before {
		if mayOverlap(b, gate) {
			return false
		}
	}
	return true
}

// mayOverlap reports whether some request may match both a and b, as far
// as paths and hosts tell (anything else: it may).
func mayOverlap(a, b caddyhttp.MatcherSets) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if setsMayOverlap(x, y) {
				return true
			}
		}
	}
	return false
}

func setsMayOverlap(x, y caddyhttp.MatcherSet) bool {
	px, py := firstPaths(x), firstPaths(y)
	if px != nil && py != nil && !slices.ContainsFunc(px, func(a string) bool {
		return slices.ContainsFunc(py, func(b string) bool { return patternsMayOverlap(a, b) })
	}) {
		return false
	}
	hx, hy := firstHosts(x), firstHosts(y)
	if hx != nil && hy != nil && !slices.ContainsFunc(hx, func(a string) bool {
		return slices.ContainsFunc(hy, func(b string) bool { return strings.EqualFold(a, b) || strings.Contains(a+b, "*") })
	}) {
		return false
	}
	return true
}

// patternsMayOverlap: one covers the other, or either has a '*' other than
// a trailing one (then it cannot tell).
func patternsMayOverlap(a, b string) bool {
	inner := func(p string) bool { return strings.Contains(strings.TrimSuffix(p, "*"), "*") }
	return inner(a) || inner(b) || patternCovers(a, b) || patternCovers(b, a)
}

func firstPaths(set caddyhttp.MatcherSet) caddyhttp.MatchPath {
	for _, m := range set {
		if p, ok := pathsOf(m); ok {
			return p
		}
	}
	return nil
}

func firstHosts(set caddyhttp.MatcherSet) caddyhttp.MatchHost {
	for _, m := range set {
		if h, ok := hostsOf(m); ok {
			return h
		}
	}
	return nil
}

// proxiedSets lists the sets of requests r proxies (reverse_proxy,
// php_fastcgi; forward_auth's GET to an auth service aside), as matched
// within its block: its own matchers for a proxy in its handler chain,
// those of its block's routes for one inside a block.
func proxiedSets(r caddyhttp.Route, within caddyhttp.MatcherSets, named map[string]*caddyhttp.Route) []caddyhttp.MatcherSets {
	own := effective(r.MatcherSets, within)
	var out []caddyhttp.MatcherSets
	for _, h := range r.Handlers {
		if moduleID(h) == "http.handlers.scopegate_guard" {
			return out // what follows is guarded
		}
		switch h := h.(type) {
		case *reverseproxy.Handler:
			if !passesOn(h) {
				return append(out, own)
			}
		case *caddyhttp.Subroute:
			for _, inner := range h.Routes {
				out = append(out, proxiedSets(inner, own, named)...)
			}
		case *caddyhttp.Invoke:
			if nr, ok := named[h.Name]; ok {
				out = append(out, proxiedSets(caddyhttp.Route{Handlers: nr.Handlers}, own, nil)...)
			}
		}
	}
	return out
}

// covers reports whether a route matching outer matches every request one
// matching inner does, as far as it can tell from path and host matchers:
// every set of inner is covered by some set of outer. nil sets match every
// request. Matchers it cannot compare (methods, headers, expressions,
// regular expressions) make it say no, so a carve-out such as
// `handle /public/* { reverse_proxy }` before a guard of every other path
// stays allowed: only a gate that can never run is refused.
func covers(outer, inner caddyhttp.MatcherSets) bool {
	if len(outer) == 0 {
		return true
	}
	if len(inner) == 0 {
		inner = caddyhttp.MatcherSets{nil}
	}
	for _, in := range inner {
		covered := false
		for _, out := range outer {
			if setCovers(out, in) {
				covered = true
				break
			}
		}
		if !covered {
			return false
		}
	}
	return true
}

// setCovers reports whether every matcher of out (ANDed) matches whatever
// the matcher set in matches.
func setCovers(out, in caddyhttp.MatcherSet) bool {
	for _, m := range out {
		switch {
		case isPath(m):
			p, _ := pathsOf(m)
			if !pathsCover(p, in) {
				return false
			}
		case isHost(m):
			h, _ := hostsOf(m)
			if !hostsCover(h, in) {
				return false
			}
		default:
			same := false
			for _, x := range in {
				same = same || sameMatcher(m, x)
			}
			if !same {
				return false
			}
		}
	}
	return true
}

func isPath(m any) bool { _, ok := pathsOf(m); return ok }
func isHost(m any) bool { _, ok := hostsOf(m); return ok }

// sameMatcher reports whether a and b are the same matcher (the same
// named matcher used by both routes, once provisioned: equal values).
func sameMatcher(a, b any) bool {
	return reflect.DeepEqual(a, b)
}

// pathsCover reports whether patterns match every path the set in does:
// in must hold a path matcher each of whose patterns one of patterns covers.
func pathsCover(patterns caddyhttp.MatchPath, in caddyhttp.MatcherSet) bool {
	if slices.Contains(patterns, "*") || slices.Contains(patterns, "/*") {
		return true
	}
	for _, m := range in {
		p, ok := pathsOf(m)
		if !ok {
			continue
		}
		all := true
		for _, want := range p {
			if !slices.ContainsFunc(patterns, func(have string) bool { return patternCovers(have, want) }) {
				all = false
				break
			}
		}
		if all && len(p) > 0 {
			return true
		}
	}
	return false
}

// patternCovers reports whether Caddy path pattern have matches every path
// pattern want matches (case-insensitively, as Caddy compares paths): the
// same pattern, or have a prefix pattern ("/api*") whose prefix starts
// want's fixed part.
func patternCovers(have, want string) bool {
	have, want = strings.ToLower(have), strings.ToLower(want)
	if have == want {
		return true
	}
	prefix, ok := strings.CutSuffix(have, "*")
	if !ok || strings.Contains(prefix, "*") {
		return false
	}
	fixed, _, _ := strings.Cut(want, "*")
	return strings.HasPrefix(fixed, prefix)
}

// hostsCover reports whether hosts match every host the set in names: in
// must hold a host matcher whose hosts are all among hosts.
func hostsCover(hosts caddyhttp.MatchHost, in caddyhttp.MatcherSet) bool {
	for _, m := range in {
		h, ok := hostsOf(m)
		if !ok {
			continue
		}
		all := len(h) > 0
		for _, want := range h {
			if !slices.ContainsFunc(hosts, func(have string) bool { return strings.EqualFold(have, want) }) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}
