package apache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAuthScriptOfAStockWSGIPy: the guide's WSGIAuthUserScript names the
// project's wsgi.py. The guide's wsgi.py imports check_password from
// Django's handler, and the import points at it; a stock wsgi.py does
// not, and the import uses Django's handler itself, which is what it
// would take under mod_wsgi too.
func TestAuthScriptOfAStockWSGIPy(t *testing.T) {
	for _, tc := range []struct {
		name, wsgi, want string
	}{
		{"stock", "import os\nfrom django.core.wsgi import get_wsgi_application\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\napplication = get_wsgi_application()\n",
			`check_password = "django.contrib.auth.handlers.modwsgi:check_password"`},
		{"the guide's", "import os\nfrom django.core.wsgi import get_wsgi_application\nfrom django.contrib.auth.handlers.modwsgi import check_password\napplication = get_wsgi_application()\n",
			`check_password = "mysite.wsgi:check_password"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "mysite.com", "mysite"), 0o755)
			script := filepath.Join(dir, "mysite.com", "mysite", "wsgi.py")
			os.WriteFile(script, []byte(tc.wsgi), 0o644)
			conf := filepath.Join(dir, "site.conf")
			os.WriteFile(conf, []byte(`WSGIScriptAlias / `+script+`
WSGIPythonPath `+filepath.Join(dir, "mysite.com")+`
<Location "/secret">
    AuthType Basic
    AuthName "Top Secret"
    AuthBasicProvider wsgi
    WSGIAuthUserScript `+script+`
    Require valid-user
</Location>
`), 0o644)
			res, err := Import(conf)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(res.TOML), tc.want) {
				t.Fatalf("TOML lacks %s:\n%s", tc.want, res.TOML)
			}
		})
	}
}
