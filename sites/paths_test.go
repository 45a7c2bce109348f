package sites

import "testing"

func TestPathPrefixes(t *testing.T) {
	for _, tc := range []struct {
		p, prefix string
		want      bool
	}{
		{"/admin", "/admin/", true}, {"/admin/x", "/admin", true}, {"/administrator", "/admin", false},
		{"/x", "/", true}, {"/", "", true}, {"/a", "/a/b", false},
	} {
		if got := UnderPrefix(tc.p, tc.prefix); got != tc.want {
			t.Errorf("UnderPrefix(%q, %q) = %v", tc.p, tc.prefix, got)
		}
	}
	for _, tc := range []struct {
		p, dir string
		want   bool
	}{
		{"/srv/files", "/srv/files", true}, {"/srv/files/a", "/srv/files", true}, {"/srv/files-old", "/srv/files", false},
		{"/srv/files/a", "/srv/files/", true}, {"/srv", "/srv/files", false},
	} {
		if got := UnderDir(tc.p, tc.dir); got != tc.want {
			t.Errorf("UnderDir(%q, %q) = %v", tc.p, tc.dir, got)
		}
	}
	if TrimSlash("/") != "/" || TrimSlash("/a/") != "/a" {
		t.Error("TrimSlash")
	}
}
