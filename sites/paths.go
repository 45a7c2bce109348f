package sites

import (
	"path/filepath"
	"strings"
)

// UnderPrefix matches a URL prefix on segment boundaries, as the router
// and every rule do: "/admin/" and "/admin" both cover "/admin" and
// "/admin/x", never "/administrator".
func UnderPrefix(p, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" {
		return true
	}
	return strings.HasPrefix(p, prefix) && (len(p) == len(prefix) || p[len(prefix)] == '/')
}

// UnderDir matches a host directory on path element boundaries: dir
// covers itself and what is inside it, never a sibling that shares its
// name's start ("/srv/files" does not cover "/srv/files-old").
func UnderDir(p, dir string) bool {
	if p == dir {
		return true
	}
	return strings.HasPrefix(p, dir) && (strings.HasSuffix(dir, string(filepath.Separator)) || p[len(dir)] == filepath.Separator)
}

// TrimSlash drops a URL's trailing slash, but keeps "/".
func TrimSlash(u string) string {
	if len(u) > 1 {
		return strings.TrimSuffix(u, "/")
	}
	return u
}
