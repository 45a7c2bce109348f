package host

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wasgi/wasgi/internal/setup"
	"github.com/wasgi/wasgi/internal/testwasm"
	"github.com/wasgi/wasgi/sites"
)

// The board example in a real browser: headless Chromium, driven through
// the DevTools protocol by chromedp, uses the Django admin as a person
// would. It proves what the HTTP-level tests cannot: that the admin's CSS
// and JavaScript load through the /static/ alias, that the browser's own
// multipart upload of a non-ASCII file name reaches Django intact, and that
// the Host header a browser sends (board.localhost:PORT) selects the site.

// chromium returns Debian's Chromium, skipping when it is not installed
// (failing on CI, which installs it, and under WASGI_REQUIRE_SERVICES=1).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	testwasm.Missing(t, "needs Debian's chromium for the browser test: apt-get install chromium fonts-nanum (or run "+setup.Command+")")
	return ""
}

// artifactDir returns the folder for t's screenshots, emptied of earlier
// ones: $WASGI_ARTIFACTS/TestName, or wasgi-artifacts/TestName in the
// system's temporary folder. It outlives the test, so that the pictures can
// be looked at after a run, and is never in the source tree.
func artifactDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("WASGI_ARTIFACTS")
	if root == "" {
		root = filepath.Join(os.TempDir(), "wasgi-artifacts")
	}
	dir := filepath.Join(root, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	for _, f := range old {
		os.Remove(f)
	}
	return dir
}

// boardExample copies examples/python to a temporary folder (examplesCopy:
// without the database, uploads and static files a run of the example
// leaves in the source tree) and writes beside it a config of the board
// site alone (the example's own [[site]] table, its relative paths
// intact), with the test cache and the Django packages of djangoPackages. It returns the config's path and the
// board project's folder.
func boardExample(t *testing.T) (config, board string) {
	t.Helper()
	pkgs := djangoPackages(t)
	dir := examplesCopy(t, "python")
	board = filepath.Join(dir, "board")
	os.MkdirAll(filepath.Join(board, "static"), 0o755) // filled by collectstatic
	text, err := os.ReadFile(filepath.Join(dir, "wasgi.toml"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(text), "[[site]]\nname = \"board\"")
	if i < 0 {
		t.Fatal("examples/python/wasgi.toml has no [[site]] named board")
	}
	site := strings.ReplaceAll(string(text[i:]), `"../build/python-packages/dist-packages"`, strconv.Quote(pkgs))
	config = filepath.Join(dir, "board.toml")
	head := fmt.Sprintf("[server]\ncache_dir = %q\naccess_log = \"off\"\n\n", testwasm.CacheDir(t))
	if err := os.WriteFile(config, []byte(head+site), 0o644); err != nil {
		t.Fatal(err)
	}
	return config, board
}

// TestBrowserDjangoAdmin: issue 18. The board example served by wasgi,
// used in headless Chromium: log in to the admin, add a note with a file
// named 파일.txt through the admin's form, see it on the list view, follow
// its link through the /media/ alias, log out. Each step leaves a
// screenshot in artifactDir. It runs under the race detector too (29 s
// there against 20 s here, on 2 cores): the browser's parallel requests,
// for the admin's CSS and JavaScript beside the pages, are concurrency of
// the kind the race detector is for.
func TestBrowserDjangoAdmin(t *testing.T) {
	chrome := chromium(t)
	needSQLite(t)
	config, board := boardExample(t)
	const password = "browser-Pass-18"
	manageApp(t, config, "board", nil, "migrate", "--noinput")
	manageApp(t, config, "board", map[string]string{"DJANGO_SUPERUSER_PASSWORD": password, "DJANGO_SUPERUSER_EMAIL": "admin@board.localhost"},
		"createsuperuser", "--noinput", "--username", "admin")
	manageApp(t, config, "board", nil, "collectstatic", "--noinput")
	cfg, err := sites.Load(config)
	if err != nil {
		t.Fatal(err)
	}
	th := startHostConfig(t, cfg)
	// Chromium resolves *.localhost to loopback itself, so the site is
	// reached by the name in the example's config, with the port in the
	// Host header as a browser sends it.
	_, port, _ := strings.Cut(strings.TrimPrefix(th.url, "http://"), ":")
	site := "http://board.localhost:" + port

	shots := artifactDir(t)
	t.Logf("screenshots in %s", shots)
	const content = "안녕하세요, wasgi!\n한국어 내용 — UTF-8\n"
	upload := filepath.Join(t.TempDir(), "파일.txt")
	if err := os.WriteFile(upload, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}

	// The whole session is bounded, and each step within it: a hang fails
	// the test instead of blocking CI.
	session, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alloc, cancel := chromedp.NewExecAllocator(session, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.NoSandbox, // as root on CI
		chromedp.DisableGPU,
		// This machine's network is closed: no connections of Chromium's own.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
	)...)
	defer cancel()
	tab, cancel := chromedp.NewContext(alloc)
	defer cancel()
	t0 := time.Now()
	if err := chromedp.Do(tab); err != nil { // starts the browser, with no timeout of its own
		t.Fatalf("starting %s: %v", chrome, err)
	}
	t.Logf("Chromium started in %v", time.Since(t0).Round(time.Millisecond))

	n := 0
	shot := func(name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, 15*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
			return
		}
		n++
		os.WriteFile(filepath.Join(shots, fmt.Sprintf("%02d-%s.png", n, name)), png, 0o644)
	}
	fail := func(format string, args ...any) {
		t.Helper()
		shot("failed")
		t.Fatalf(format+"\nhost log:\n%s", append(args, th.logs.String())...)
	}
	// step runs actions within a timeout of their own.
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, 30*time.Second)
		defer cancel()
		t0 := time.Now()
		if err := chromedp.Do(ctx, actions...); err != nil {
			fail("%s: %v", what, err)
		}
		t.Logf("%s: %v", what, time.Since(t0).Round(time.Millisecond))
	}
	// submit clicks sel and waits for the page it loads, which must be 200.
	submit := func(what, sel string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, 30*time.Second)
		defer cancel()
		t0 := time.Now()
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
		if err != nil {
			fail("%s: %v", what, err)
		}
		if resp.Status != 200 {
			fail("%s: %s answered %d", what, resp.URL, resp.Status)
		}
		t.Logf("%s: %v", what, time.Since(t0).Round(time.Millisecond))
	}
	// eval returns the value of a JavaScript expression on the page.
	eval := func(expr string, opts ...chromedp.EvaluateOption) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, 15*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, opts...))
		if err != nil {
			fail("evaluating %s: %v", expr, err)
		}
		return v
	}
	location := func() string {
		t.Helper()
		u, err := url.Parse(eval(`document.location.href`))
		if err != nil {
			fail("%v", err)
		}
		return u.RequestURI()
	}

	// The admin sends an anonymous visitor to its login page, styled and
	// scripted by files from the /static/ alias.
	step("open /admin/", chromedp.Navigate(site+"/admin/"), chromedp.WaitVisible(chromedp.CSS("#id_username")))
	if got := location(); got != "/admin/login/?next=/admin/" {
		fail("/admin/ led to %s, want the login page", got)
	}
	if got := eval(`document.documentElement.dataset.theme || "theme.js did not run"`); got != "auto" {
		fail("the admin's JavaScript (/static/admin/js/theme.js): %s", got)
	}
	if got := eval(`performance.getEntriesByType("resource").filter(e => e.name.includes("/static/")).map(e => new URL(e.name).pathname + " " + e.responseStatus).sort().join(", ")`); !strings.Contains(got, "/static/admin/css/base.css 200") || strings.Contains(got, " 404") {
		fail("the admin's static files through the /static/ alias: %s", got)
	}
	if got := eval(`getComputedStyle(document.querySelector("#header")).backgroundColor`); got == "rgba(0, 0, 0, 0)" {
		fail("the admin's header is not styled: base.css did not apply")
	}
	shot("login")

	step("fill in the login form",
		chromedp.SendKeys(chromedp.CSS("#id_username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#id_password"), password))
	submit("log in", `#login-form input[type="submit"]`)
	if got := location(); got != "/admin/" {
		fail("after logging in the browser is at %s, want /admin/", got)
	}
	step("the admin index", chromedp.WaitVisible(chromedp.CSS("#logout-form")), chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/notes/note/add/"]`)))
	shot("admin-index")

	const title = "Notes from Chromium"
	step("open the form to add a note", chromedp.Click(chromedp.CSS(`a[href="/admin/notes/note/add/"]`)), chromedp.WaitVisible(chromedp.CSS("#id_attachment")))
	step("fill in the note",
		chromedp.SendKeys(chromedp.CSS("#id_title"), title),
		chromedp.SendKeys(chromedp.CSS("#id_body"), "Added through the admin in headless Chromium."),
		chromedp.SetUploadFiles(chromedp.CSS("#id_attachment"), []string{upload}))
	shot("note-form")
	submit("save the note", `input[name="_save"]`)
	if got := location(); got != "/admin/notes/note/" {
		fail("after saving the browser is at %s, want the list of notes", got)
	}
	if got := eval(`document.querySelector(".messagelist .success")?.innerText ?? document.body.innerText`); !strings.Contains(got, "was added successfully") || !strings.Contains(got, title) {
		fail("the admin did not confirm the note: %q", got)
	}
	shot("note-saved")
	saved, err := os.ReadFile(filepath.Join(board, "media", "uploads", "파일.txt"))
	if err != nil || string(saved) != content {
		fail("the upload on disk (media/uploads/파일.txt): %q, %v", saved, err)
	}

	// The site's own list view links the attachment under /media/.
	step("open the list view", chromedp.Navigate(site+"/"), chromedp.WaitVisible(chromedp.CSS(`li a[href^="/media/"]`)))
	if got := eval(`document.querySelector("li").innerText`); got != title+" 파일.txt" {
		fail("the note on the list view: %q, want %q", got, title+" 파일.txt")
	}
	href := eval(`document.querySelector('li a[href^="/media/"]').getAttribute("href")`)
	if want := "/media/uploads/" + url.PathEscape("파일.txt"); href != want {
		fail("the attachment's link: %q, want %q", href, want)
	}
	shot("list")

	// Follow the link: the browser shows the file, decoded as UTF-8 (the
	// alias says text/plain; charset=utf-8), and its bytes are the upload's.
	submit("follow the attachment's link", `li a[href^="/media/"]`)
	if got := location(); got != href {
		fail("the link led to %s, want %s", got, href)
	}
	if got := eval(`document.body.innerText`); got != strings.TrimSuffix(content, "\n") && got != content {
		fail("the attachment in the browser: %q, want %q", got, content)
	}
	if got := eval(`fetch(location.href).then(r => r.arrayBuffer()).then(b => Array.from(new Uint8Array(b), x => x.toString(16).padStart(2, "0")).join(""))`, chromedp.EvalAwaitPromise); got != fmt.Sprintf("%x", content) {
		fail("the attachment's bytes, fetched by the page: %s, want %x", got, content)
	}
	shot("attachment")
	req, _ := http.NewRequest("GET", th.url+href, nil)
	req.Host = "board.localhost:" + port
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail("GET %s: %v", href, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != content || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		fail("GET %s: %d %q %q, want 200 text/plain; charset=utf-8 %q", href, resp.StatusCode, resp.Header.Get("Content-Type"), body, content)
	}

	// Log out with the POST form of the admin's user menu (Django 5); the
	// admin asks to log in again.
	step("back to the admin", chromedp.Navigate(site+"/admin/"), chromedp.WaitVisible(chromedp.CSS("#logout-form")))
	submit("log out", "#logout-form button")
	if got := eval(`document.querySelector("#content").innerText`); !strings.Contains(got, "Thanks for spending some quality time") {
		fail("after logging out: %q", got)
	}
	shot("logged-out")
	step("open /admin/ again", chromedp.Navigate(site+"/admin/"), chromedp.WaitVisible(chromedp.CSS("#id_username")))
	if got := location(); got != "/admin/login/?next=/admin/" {
		fail("after logging out /admin/ led to %s, want the login page", got)
	}
	t.Logf("the whole browser session: %v", time.Since(t0).Round(time.Millisecond))
}
