package sites

import (
	"testing"
)

func TestIndex(t *testing.T) {
	const src = "\xef\xbb\xbf" + `# comment [not = a table]
[server]
listen = [
  "a", # first
  "b",
]
note = """
fake = "key"
[[site]]
"""
tls.cert = 'c'

[[site]]
name = "one"
  [[site.app]]
  name = "x"
  [[site.app]]
  "name" = "y"
  env = { A = "1", 'B.C' = "2" }
  dirs = [ { guest = "/d" },
           { guest = "/e", host = "h" } ]

[[site]]
name = "two"
  [[site.app]]
  mount = "/"
[ site . location ]
url = "/l/"
`
	x := buildIndex(src)
	site := root.key("site")
	tests := []struct {
		p    path
		want position
	}{
		{root.key("server"), position{2, 1}},
		{root.key("server").key("listen"), position{3, 1}},
		{root.key("server").key("listen").at(1), position{5, 3}},
		{root.key("server").key("tls").key("cert"), position{11, 1}},
		{site.at(0), position{13, 1}},
		{site.at(0).key("app").at(1).key("name"), position{18, 3}},
		{site.at(0).key("app").at(1).key("env").key("B.C"), position{19, 20}},
		{site.at(0).key("app").at(1).key("dirs").at(1).key("host"), position{21, 28}},
		{site.at(1).key("app").at(0).key("mount"), position{26, 3}},
		{site.at(1).key("location").key("url"), position{28, 1}},
		// Missing keys fall back to their table.
		{site.at(1).key("app").at(0).key("module"), position{25, 3}},
		{site.at(2).key("name"), position{}},
	}
	for _, tt := range tests {
		if got := x.lookup(tt.p); got != tt.want {
			t.Errorf("lookup(%s) = %v, want %v", tt.p.dotted(), got, tt.want)
		}
	}
	if n := len(x.occ["site"]); n != 2 {
		t.Errorf("%d occurrences of site, want 2 (the multi-line string hides one)", n)
	}
	if got := site.at(0).key("app").at(1).key("env").key("B.C").dotted(); got != `site.app.env."B.C"` {
		t.Errorf("dotted = %s", got)
	}
}
