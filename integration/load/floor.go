package main

import (
	"os"
	"path/filepath"
	"strings"
)

// The identity headers the quickstart's guard forwards for the load's
// client (a 2-legged demo.read token of the default tenant), with values of
// the same lengths: a client id is "sg_" and 22 characters.
var floorHeaders = []string{
	"-Authorization",
	"X-Scopegate-Client-Id sg_0123456789abcdefghijkl",
	"X-Scopegate-Tenant default",
	"X-Scopegate-Scopes demo.read",
	"X-Scopegate-Legs 2",
}

// withIdentityFloor writes into dir a copy of the Caddyfile at path with one
// more route, /floor/*: the unguarded /public/ route's reverse_proxy, which
// also drops the bearer token and forwards the identity headers the guard
// would, with no token check. It is the floor under any gateway that hands
// this identity on: guarded/floor is what the guard's own work costs, and
// floor/plain what forwarding the identity costs in Go's and Caddy's HTTP
// code. It returns path unchanged, and false, when the file has no
// "route /public/* {" block whose reverse_proxy it can copy.
func withIdentityFloor(path, dir string) (string, bool, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", false, err
	}
	route, ok := publicRoute(string(src))
	if !ok {
		return path, false, nil
	}
	floor := strings.Replace(route, "route /public/* {", "route /floor/* {", 1)
	// Every header_up applies to the proxied copy of the request in one
	// handler, as the guard sets its headers in one.
	open := strings.Index(floor, "reverse_proxy")
	eol := strings.Index(floor[open:], "{\n")
	if eol < 0 {
		return path, false, nil
	}
	at := open + eol + len("{\n")
	var ups strings.Builder
	for _, h := range floorHeaders {
		ups.WriteString("\t\t\theader_up " + h + "\n")
	}
	floor = floor[:at] + ups.String() + floor[at:]
	out := filepath.Join(dir, "floor.Caddyfile")
	text := strings.Replace(string(src), route, floor+"\n"+route, 1)
	return out, true, os.WriteFile(out, []byte(text), 0o600)
}

// publicRoute returns the text of the file's "route /public/* {" block, from
// its tab to its closing brace's line, whose reverse_proxy has a block.
func publicRoute(src string) (string, bool) {
	start := strings.Index(src, "\troute /public/* {\n")
	if start < 0 {
		return "", false
	}
	end := strings.Index(src[start:], "\n\t}\n")
	if end < 0 {
		return "", false
	}
	route := src[start : start+end+len("\n\t}\n")]
	return route, strings.Contains(route, "reverse_proxy") && strings.Count(route, "{") >= 2
}
