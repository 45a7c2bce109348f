package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/runtimes/python"
	"github.com/wasgi/wasgi/sandbox"
	"github.com/wasgi/wasgi/sites"
)

// RunOptions are a one-shot run's standard streams and limits.
type RunOptions struct {
	// Stdin, Stdout and Stderr are the guest's (a terminal, for
	// createsuperuser or shell).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Timeout stops the run; 0 lets it run until it ends.
	Timeout time.Duration
	// Env is added to the app's environment for this run only (for
	// example DJANGO_SUPERUSER_PASSWORD for createsuperuser --noinput);
	// nothing of the caller's own environment is passed otherwise.
	Env map[string]string
	// Log receives the host's own events (and the guest's log calls).
	Log zerolog.Logger
}

// ErrNoManagePy: the app is not a Python app with a manage.py in its
// python_path.
var ErrNoManagePy = errors.New("no manage.py in the app's python_path")

// Manage runs `python manage.py ARGS...` for the Python app target
// ("site/app", or "site" for a site with one Python app) in the same
// sandbox as the app serves in: its env, python_path, python_home, dirs,
// memory_limit and outbound list, nothing else. It returns the command's
// exit status. The mod_wsgi habit it replaces is running manage.py with
// the virtual environment's python, as the site's user.
func Manage(ctx context.Context, cfg *sites.Config, target string, args []string, o RunOptions) (int, error) {
	sc, ac, err := findApp(cfg, target)
	if err != nil {
		return 0, err
	}
	if ac.Runtime != "python" {
		return 0, fmt.Errorf("%s/%s is not a Python app (runtime = \"python\"): %w", sc.Name, ac.Name, ErrNoManagePy)
	}
	dir, err := python.RuntimeDir()
	if err != nil {
		return 0, err
	}
	module, acfg, err := appConfig(cfg, sc, ac, dir)
	if err != nil {
		return 0, err
	}
	script := ""
	for _, p := range ac.Python.Path {
		if _, err := os.Stat(filepath.Join(p, "manage.py")); err != nil {
			continue
		}
		for _, d := range acfg.Dirs {
			if d.Host == p {
				script = d.Guest + "/manage.py"
				break
			}
		}
		if script != "" {
			break
		}
	}
	if script == "" {
		return 0, fmt.Errorf("%s/%s: %w (%s)", sc.Name, ac.Name, ErrNoManagePy, strings.Join(ac.Python.Path, ", "))
	}
	env := map[string]string{}
	for k, v := range o.Env {
		env[k] = v
	}
	env[python.EnvRun] = "1"
	return runApp(ctx, cfg, module, acfg, append([]string{script}, args...), env, o)
}

// runApp runs module once with acfg, its loggers and outbound policy set
// as serving would set them.
func runApp(ctx context.Context, cfg *sites.Config, module string, acfg sandbox.AppConfig, args []string, env map[string]string, o RunOptions) (int, error) {
	log := o.Log.With().Str("app", acfg.Name).Logger()
	acfg.Logger, acfg.HostLogger = log, log
	if acfg.Outbound != nil {
		ls := configListeners(cfg) // the server may be running: its listeners stay off limits
		acfg.Outbound.Own = func(ap netip.AddrPort) string { return ownListener(ls, ap) }
	}
	rt, err := sandbox.New(ctx, sandbox.Options{CacheDir: cfg.Server.CacheDir, Logger: log})
	if err != nil {
		return 0, err
	}
	defer rt.Close(ctx)
	m, err := rt.Compile(ctx, module)
	if err != nil {
		return 0, err
	}
	defer rt.Release(ctx, m)
	return rt.Run(ctx, m, acfg, sandbox.RunConfig{Args: args, Env: env, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Timeout: o.Timeout})
}

// findApp finds "site/app", or "site" when the site has exactly one app.
func findApp(cfg *sites.Config, target string) (*sites.Site, *sites.App, error) {
	siteName, appName, hasApp := strings.Cut(target, "/")
	for _, sc := range cfg.Sites {
		if sc.Name != siteName {
			continue
		}
		if !hasApp {
			if len(sc.Apps) == 1 {
				return sc, sc.Apps[0], nil
			}
			names := make([]string, len(sc.Apps))
			for i, a := range sc.Apps {
				names[i] = sc.Name + "/" + a.Name
			}
			return nil, nil, fmt.Errorf("site %s has %d apps: name one of %s", sc.Name, len(sc.Apps), strings.Join(names, ", "))
		}
		for _, ac := range sc.Apps {
			if ac.Name == appName {
				return sc, ac, nil
			}
		}
		return nil, nil, fmt.Errorf("site %s has no app %q", sc.Name, appName)
	}
	return nil, nil, fmt.Errorf("no site %q in %s", siteName, cfg.File)
}
