package host

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/internal/testsvc"
	"github.com/wasgi/wasgi/internal/testwasm"
	"github.com/wasgi/wasgi/sites"
)

// A stock Django project, as the guide's reader has it: django-admin
// startproject with Django 5.2 LTS, its default SQLite settings (only
// ALLOWED_HOSTS and STATIC_ROOT set), migrated and given a superuser with
// wasgi manage, served by wasgi.

// startproject makes a fresh Django 5.2 project in a temporary folder and
// a config serving it; it returns the config's path and the project's.
func startproject(t *testing.T) (config, project string) {
	t.Helper()
	pythonRuntime(t)
	pkgs := djangoPackages(t)
	python, err := exec.LookPath("python3.11")
	if err != nil {
		t.Skip("needs Debian's python3.11 to run django-admin startproject")
	}
	dir := t.TempDir()
	cmd := exec.Command(python, "-m", "django", "startproject", "mysite")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "PYTHONPATH="+pkgs)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("startproject: %v\n%s", err, out)
	}
	project = filepath.Join(dir, "mysite")
	settings := filepath.Join(project, "mysite", "settings.py")
	b, _ := os.ReadFile(settings)
	s := strings.Replace(string(b), "ALLOWED_HOSTS = []", "ALLOWED_HOSTS = ['mysite.test']", 1)
	s = strings.Replace(s, "STATIC_URL = 'static/'", "STATIC_URL = 'static/'\nSTATIC_ROOT = BASE_DIR / 'static'", 1)
	if s == string(b) || !strings.Contains(s, "'NAME': BASE_DIR / 'db.sqlite3'") {
		t.Fatalf("startproject's settings are not what this test expects:\n%s", b)
	}
	os.WriteFile(settings, []byte(s), 0o644)
	os.MkdirAll(filepath.Join(project, "static"), 0o755)
	config = filepath.Join(dir, "wasgi.toml")
	os.WriteFile(config, []byte(fmt.Sprintf(`
[server]
cache_dir = %q
access_log = "off"
[[site]]
name = "mysite"
hosts = ["mysite.test"]
  [[site.app]]
  name = "main"
  mount = "/"
  runtime = "python"
  wsgi = "mysite.wsgi:application"
  python_path = [%q, %q]
  env = { DJANGO_SETTINGS_MODULE = "mysite.settings" }
  dirs = [ { guest = "/srv/mysite", host = %q, mode = "rw" } ]
  [[site.alias]]
  url = "/static/"
  path = %q
  [[site.directory]]
  path = %q
  require = ["all granted"]
`, testwasm.CacheDir(t), project, pkgs, project, filepath.Join(project, "static")+"/", filepath.Join(project, "static")+"/")), 0o644)
	return config, project
}

// needSQLite skips when the runtime was built without sqlite3.
func needSQLite(t *testing.T) {
	t.Helper()
	dir := pythonRuntime(t)
	// SQLite's own strings are in the module's data when it is linked in.
	if b, err := os.ReadFile(filepath.Join(dir, "python-wsgi.wasm")); err != nil || !bytes.Contains(b, []byte("sqlite_master")) {
		t.Skip("the Python runtime was built without sqlite3 (runtimes/python/build.sh)")
	}
}

// manage runs wasgi manage for startproject's site, mysite.
func manage(t *testing.T, config string, env map[string]string, args ...string) string {
	t.Helper()
	return manageApp(t, config, "mysite", env, args...)
}

// manageApp runs wasgi manage ARGS for target ("site" or "site/app") of
// the config, failing the test unless it exits 0; it returns its stdout.
func manageApp(t *testing.T, config, target string, env map[string]string, args ...string) string {
	t.Helper()
	cfg, err := sites.Load(config)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	code, err := Manage(context.Background(), cfg, target, args, RunOptions{Stdout: &out, Stderr: &errb, Env: env, Log: zerolog.Nop()})
	if err != nil || code != 0 {
		t.Fatalf("wasgi manage %s: exit %d, %v\n%s%s", strings.Join(args, " "), code, err, out.String(), errb.String())
	}
	return out.String()
}

var csrfInput = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([^"]+)"`)

// adminClient is a browser-like client of the test host: cookies, the
// site's Host header, no redirects followed.
type adminClient struct {
	t    *testing.T
	th   *testHost
	http *http.Client
}

func newAdminClient(t *testing.T, th *testHost) *adminClient {
	jar, _ := cookiejar.New(nil)
	return &adminClient{t, th, &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *adminClient) do(method, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.th.url+path, body)
	req.Host = "mysite.test"
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Referer", "http://mysite.test"+path)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// form GETs path and POSTs values to it with the page's CSRF token.
func (c *adminClient) form(path string, values url.Values) (*http.Response, string) {
	c.t.Helper()
	resp, page := c.do("GET", path, nil)
	m := csrfInput.FindStringSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		c.t.Fatalf("GET %s: %d, no CSRF token\n%.2000s\nhost log:\n%s", path, resp.StatusCode, page, c.th.logs.String())
	}
	values.Set("csrfmiddlewaretoken", m[1])
	return c.do("POST", path, values)
}

// TestDjangoStartproject: the whole first hour of the guide's reader.
func TestDjangoStartproject(t *testing.T) {
	needSQLite(t)
	config, project := startproject(t)
	manage(t, config, nil, "migrate", "--noinput")
	manage(t, config, map[string]string{"DJANGO_SUPERUSER_PASSWORD": "s3cret-Pass", "DJANGO_SUPERUSER_EMAIL": "admin@example.com"},
		"createsuperuser", "--noinput", "--username", "admin")
	manage(t, config, nil, "collectstatic", "--noinput")
	if _, err := os.Stat(filepath.Join(project, "db.sqlite3")); err != nil {
		t.Fatalf("no db.sqlite3 beside manage.py: %v", err)
	}

	cfg, err := sites.Load(config)
	if err != nil {
		t.Fatal(err)
	}
	th := startHostConfig(t, cfg)
	c := newAdminClient(t, th)
	resp, _ := c.form("/admin/login/?next=/admin/", url.Values{"username": {"admin"}, "password": {"s3cret-Pass"}, "next": {"/admin/"}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/admin/" {
		t.Fatalf("admin login: %d, Location %q\n%s", resp.StatusCode, resp.Header.Get("Location"), th.logs.String())
	}
	if !strings.Contains(strings.Join(resp.Header.Values("Set-Cookie"), "\n"), "sessionid=") {
		t.Fatalf("no session cookie: %q", resp.Header.Values("Set-Cookie"))
	}
	// An object added through the admin is listed.
	resp, _ = c.form("/admin/auth/group/add/", url.Values{"name": {"editors"}})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("adding a group: %d", resp.StatusCode)
	}
	listed := func(c *adminClient) bool {
		resp, page := c.do("GET", "/admin/auth/group/", nil)
		return resp.StatusCode == 200 && strings.Contains(page, ">editors<")
	}
	if !listed(c) {
		t.Fatal("the group added is not listed")
	}
	if resp, _ := c.do("GET", "/static/admin/css/base.css", nil); resp.StatusCode != 200 {
		t.Fatalf("the admin's CSS through the /static/ alias: %d", resp.StatusCode)
	}

	// The data survives a reload and a restart.
	if err := th.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if !listed(c) {
		t.Fatal("after a reload the group is gone, or the session")
	}
	th2 := startHostConfig(t, cfg)
	c2 := newAdminClient(t, th2)
	c2.http.Jar = c.http.Jar
	if !listed(c2) {
		t.Fatal("after a restart the group is gone, or the session")
	}

	// Logout: a POST, as Django 5 wants; then the admin asks to log in.
	resp, page := c.do("GET", "/admin/", nil)
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token on the admin index")
	}
	resp, _ = c.do("POST", "/admin/logout/", url.Values{"csrfmiddlewaretoken": {m[1]}})
	if resp.StatusCode != 200 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if resp, _ := c.do("GET", "/admin/", nil); resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/login/") {
		t.Fatalf("after logout the admin answers %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestDjangoAuth: the guide's last section, for real: Basic auth whose
// check_password and groups_for_user are Django's own handler
// (django.contrib.auth.handlers.modwsgi), against the project's user
// database. One check's time at Django's default PBKDF2 iterations is
// logged beside native CPython's.
func TestDjangoAuth(t *testing.T) {
	needSQLite(t)
	config, project := startproject(t)
	urls := filepath.Join(project, "mysite", "urls.py")
	b, _ := os.ReadFile(urls)
	os.WriteFile(urls, []byte(strings.Replace(string(b), "urlpatterns = [", `from django.http import HttpResponse

urlpatterns = [
    path("private/whoami/", lambda r: HttpResponse(r.META.get("REMOTE_USER", "-"))),`, 1)), 0o644)
	text, _ := os.ReadFile(config)
	os.WriteFile(config, []byte(strings.Replace(string(text), `  [[site.alias]]`, `  check_password = "django.contrib.auth.handlers.modwsgi:check_password"
  groups_for_user = "django.contrib.auth.handlers.modwsgi:groups_for_user"
  [[site.location]]
  url = "/private/"
  auth = "main"
  realm = "Django users"
  require = ["group staff"]
  [[site.alias]]`, 1)), 0o644)
	manage(t, config, nil, "migrate", "--noinput")
	manage(t, config, nil, "shell", "-c", `
from django.contrib.auth.models import Group, User
staff = Group.objects.create(name="staff")
User.objects.create_user("alice", password="alice-pw").groups.add(staff)
User.objects.create_user("carol", password="carol-pw")
User.objects.create_user("bob", password="bob-pw", is_active=False).groups.add(staff)
`)
	cfg, err := sites.Load(config)
	if err != nil {
		t.Fatal(err)
	}
	th := startHostConfig(t, cfg)
	get := func(user, pw string) (int, string, time.Duration) {
		req, _ := http.NewRequest("GET", th.url+"/private/whoami/", nil)
		req.Host = "mysite.test"
		req.SetBasicAuth(user, pw)
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b), time.Since(t0)
	}
	get("alice", "alice-pw") // the first request also starts the interpreter
	code, body, took := get("alice", "alice-pw")
	if code != 200 || body != "alice" {
		t.Fatalf("alice, right password: %d %q, want 200 and REMOTE_USER=alice\n%s", code, body, th.logs.String())
	}
	for _, tc := range []struct {
		user, pw string
		want     int
		what     string
	}{
		{"alice", "wrong", 401, "a wrong password"},
		{"nobody", "x", 401, "an unknown user"},
		{"carol", "carol-pw", 403, "a user not in the group"},
		{"bob", "bob-pw", 401, "an inactive user"},
	} {
		if code, body, _ := get(tc.user, tc.pw); code != tc.want {
			t.Errorf("%s: %d %q, want %d", tc.what, code, body, tc.want)
		}
	}
	// The same check natively, for comparison (no assertion: a figure).
	native := exec.Command("python3.11", "-c", `
import time
from django.conf import settings
settings.configure()
from django.contrib.auth.hashers import make_password, check_password
h = make_password("alice-pw")
t = time.perf_counter(); check_password("alice-pw", h); print(round((time.perf_counter() - t) * 1000))`)
	native.Env = append(os.Environ(), "PYTHONPATH="+djangoPackages(t))
	out, _ := native.CombinedOutput()
	t.Logf("one password check at Django 5.2's default PBKDF2 iterations: a whole request through wasgi %v; the hash alone in native CPython %s ms", took.Round(time.Millisecond), strings.TrimSpace(string(out)))
}

// TestDjangoMariaDB: the same stock project on MariaDB instead of SQLite,
// through Debian's PyMySQL and the app's outbound list: migrate, the
// admin login, and the guide's auth check against its users.
func TestDjangoMariaDB(t *testing.T) {
	debianPython(t, "pymysql")
	db := testsvc.MariaDB(t)
	host, port, _ := net.SplitHostPort(db.Addr)
	config, project := startproject(t)
	settings := filepath.Join(project, "mysite", "settings.py")
	b, _ := os.ReadFile(settings)
	s := "import pymysql\npymysql.version_info = (2, 2, 1, 'final', 0)  # what Django 5.2 asks of mysqlclient\npymysql.install_as_MySQLdb()\n\n" + string(b)
	s += fmt.Sprintf("\nDATABASES = {'default': {'ENGINE': 'django.db.backends.mysql', 'NAME': %q, 'USER': %q, 'PASSWORD': %q, 'HOST': %q, 'PORT': %q}}\n",
		db.Database, db.User, db.Password, host, port)
	os.WriteFile(settings, []byte(s), 0o644)
	text, _ := os.ReadFile(config)
	deps := pythonDeps(t, "pymysql")
	os.WriteFile(config, []byte(strings.NewReplacer(
		`  env = { DJANGO_SETTINGS_MODULE`, fmt.Sprintf("  outbound = [\"tcp://%s\"]\n  check_password = \"django.contrib.auth.handlers.modwsgi:check_password\"\n  env = { DJANGO_SETTINGS_MODULE", db.Addr),
		`python_path = [`, fmt.Sprintf("python_path = [%q, ", deps),
		`  [[site.alias]]`, "  [[site.location]]\n  url = \"/admin/doc/\"\n  auth = \"main\"\n  require = [\"valid-user\"]\n  [[site.alias]]",
	).Replace(string(text))), 0o644)

	manage(t, config, nil, "migrate", "--noinput")
	manage(t, config, map[string]string{"DJANGO_SUPERUSER_PASSWORD": "maria-Pass1", "DJANGO_SUPERUSER_EMAIL": "a@example.com"},
		"createsuperuser", "--noinput", "--username", "admin")
	manage(t, config, nil, "collectstatic", "--noinput")
	if _, err := os.Stat(filepath.Join(project, "db.sqlite3")); err == nil {
		t.Fatal("a db.sqlite3 appeared: the project is not on MariaDB")
	}
	cfg, err := sites.Load(config)
	if err != nil {
		t.Fatal(err)
	}
	th := startHostConfig(t, cfg)
	c := newAdminClient(t, th)
	resp, _ := c.form("/admin/login/?next=/admin/", url.Values{"username": {"admin"}, "password": {"maria-Pass1"}, "next": {"/admin/"}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/admin/" {
		t.Fatalf("admin login on MariaDB: %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), th.logs.String())
	}
	for _, tc := range []struct {
		pw   string
		want int
	}{{"maria-Pass1", 200}, {"wrong", 401}} { // past the auth check, Django's admin answers the page
		req, _ := http.NewRequest("GET", th.url+"/admin/doc/", nil)
		req.Host = "mysite.test"
		req.SetBasicAuth("admin", tc.pw)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != tc.want {
			t.Fatalf("the auth check with %q: %d, want %d", tc.pw, r.StatusCode, tc.want)
		}
	}
}
