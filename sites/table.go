package sites

import (
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the sites with their hosts, apps (mount, module file
// name or a Python app's WSGI callable, group, abi or "python") and aliases, then the groups with their settings, as
// `wasgi sites` shows them.
func (c *Config) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var err error
	row := func(cells ...string) {
		if err == nil {
			_, err = fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
	}

	row("SITE", "HOSTS", "KIND", "URL", "TARGET", "GROUP", "ABI")
	for _, s := range c.Sites {
		site, hosts := s.Name, strings.Join(s.Hosts, ",")
		first := true
		line := func(cells ...string) {
			row(append([]string{site, hosts}, cells...)...)
			if first {
				site, hosts, first = "", "", false
			}
		}
		for _, a := range s.Apps {
			// A Python app has no module of its own (Module is empty): its
			// target is the WSGI callable, its runtime the ABI column.
			target, abi := filepath.Base(a.Module), a.ABI
			if a.Runtime == "python" && a.Python != nil {
				target, abi = a.Python.WSGI, a.Runtime
			}
			line("app", a.Mount, target, a.Group, abi)
			for _, e := range a.Outbound.Entries {
				line("outbound", "-", e.String(), "-", "-")
			}
		}
		for _, a := range s.Aliases {
			line("alias", a.URL, displayPath(s.Root, a.Path, !a.File), "-", "-") // full rows keep tabwriter columns aligned
		}
		if first {
			line("-", "-", "-", "-", "-")
		}
	}

	row("")
	row("GROUP", "KIND", "INSTANCES", "MIN", "MAX REQUESTS", "REQUEST TIMEOUT", "QUEUE TIMEOUT", "IDLE TIMEOUT", "MEMORY")
	for _, name := range slices.Sorted(maps.Keys(c.Groups)) {
		g := c.Groups[name]
		kind := "shared"
		if g.Private {
			kind = "private"
		}
		row(g.Name, kind, strconv.Itoa(g.Instances), strconv.Itoa(g.MinInstances), strconv.Itoa(g.MaxRequests),
			g.RequestTimeout.String(), g.QueueTimeout.String(), g.IdleTimeout.String(), formatSize(g.MemoryLimit))
	}

	if ferr := tw.Flush(); err == nil {
		err = ferr
	}
	return err
}

// displayPath shows p relative to the site root when it lies inside it,
// with a trailing slash for folders.
func displayPath(root, p string, dir bool) string {
	if rel, err := filepath.Rel(root, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		p = rel
	}
	if dir && !strings.HasSuffix(p, string(filepath.Separator)) {
		p += string(filepath.Separator)
	}
	return p
}
