package host

import (
	"context"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/wasgi/wasgi/abi"
	"github.com/wasgi/wasgi/sandbox"
	"github.com/wasgi/wasgi/sites"
)

// app is an app mount: its pool and what its requests need ready-made.
type app struct {
	site, name string
	group      *sandbox.Group
	pool       *sandbox.Pool // abi = "wasgi"
	cgi        *sandbox.CGI  // abi = "cgi"
	route      string        // X_MATCHED_ROUTE of a CGI app, WAGI-style: "/mount/..."
	script     string        // SCRIPT_FILENAME of a CGI app: the module's file name
	env        []byte        // the app's env, pre-encoded
	python     bool          // runtime = "python"
	// checkPassword: a Python app configured with check_password (its
	// module always exports wasgi_check_password).
	checkPassword bool
	lazy          *lazyPool              // compile = "lazy": pool is nil until the first request
	outbound      *sandbox.OutboundStats // nil without an outbound list
	quota         *sandbox.QuotaStats    // nil without a dir with a quota
	startFailures *atomic.Int64          // failed instance starts; nil for a CGI app
	log           zerolog.Logger
	guestLog      zerolog.Logger // log, rate-limited for what the guest writes
	refusals      refusalLog     // queue_timeout 503s: one event a second at most
}

// guestLogBurst is how many guest log lines per second an app may write;
// the rest of each second's lines are dropped.
const guestLogBurst = 200

// newApp creates app ac of site sc in state s: its sandbox config from
// appConfig, then its pool or CGI runner in its group (or, with compile =
// "lazy", what its first request needs to make the pool).
func newApp(ctx context.Context, rt *sandbox.Runtime, s *state, sc *sites.Site, ac *sites.App, log zerolog.Logger) (_ *app, err error) {
	a := &app{site: sc.Name, name: ac.Name, group: s.groups[ac.Group], python: ac.Runtime == "python"}
	a.checkPassword = a.python && ac.Python.CheckPassword != ""
	a.log = log.With().Str("site", sc.Name).Str("app", ac.Name).Str("group", ac.Group).Logger()
	// What the guest writes (stdout, stderr, log calls) is rate-limited per
	// app, so a chatty or hostile guest cannot flood the host's log.
	a.guestLog = a.log.Sample(&zerolog.BurstSampler{Burst: guestLogBurst, Period: time.Second})
	if ac.Runtime == "python" && s.pythonDir == "" {
		if s.pythonDir, err = PythonRuntimeDir(); err != nil {
			return nil, fmt.Errorf("site %s app %s: %w", sc.Name, ac.Name, err)
		}
	}
	module, cfg, err := appConfig(s.cfg, sc, ac, s.pythonDir)
	if err != nil {
		return nil, err
	}
	cfg.Logger, cfg.HostLogger = a.guestLog, a.log
	if cfg.Outbound != nil {
		cfg.Outbound.Own = s.env.own
		cfg.Outbound.Stats = s.env.metrics.outbound(sc.Name, ac.Name)
		a.outbound = cfg.Outbound.Stats
	}
	for i, d := range cfg.Dirs {
		if d.Quota != (sandbox.Quota{}) {
			if a.quota == nil {
				a.quota = s.env.metrics.quotaStats(sc.Name, ac.Name)
			}
			cfg.Dirs[i].QuotaStats = a.quota
		}
	}
	if ac.ABI != "cgi" {
		a.startFailures = s.env.metrics.startFailures(sc.Name, ac.Name)
		cfg.StartFailures = a.startFailures
	}
	for k, v := range ac.Env {
		a.env, _ = abi.AppendEnviron(a.env, k, v)
	}
	if lazyApp(s.cfg, sc, ac) {
		a.lazy = &lazyPool{s: s, app: a, path: module, cfg: cfg, idle: s.cfg.Groups[ac.Group].IdleTimeout}
		return a, nil
	}
	m, err := s.compile(ctx, module)
	if err != nil {
		return nil, fmt.Errorf("site %s app %s: %w", sc.Name, ac.Name, err)
	}
	if ac.ABI == "cgi" {
		a.cgi, err = a.group.NewCGI(m, cfg)
		a.route = strings.TrimSuffix(ac.Mount, "/") + "/..."
		a.script = filepath.Base(ac.Module)
	} else {
		a.pool, err = a.group.NewPool(m, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("site %s app %s: %w", sc.Name, ac.Name, err)
	}
	return a, nil
}

// currentPool is the app's pool: nil for a CGI app, and for a lazy one
// before its first request compiled it.
func (a *app) currentPool() *sandbox.Pool {
	if a.pool == nil && a.lazy != nil {
		return a.lazy.pool.Load()
	}
	return a.pool
}

// appConfig translates app ac of site sc into what the sandbox runs: the
// module's path and the instances' config (env, dirs, memory_limit), but
// the loggers, which the caller sets. It is the one place where site
// config becomes sandbox config, shared by serving, checking and one-shot
// runs. pythonDir is the Python runtime's folder (for a Python app).
func appConfig(cfg *sites.Config, sc *sites.Site, ac *sites.App, pythonDir string) (module string, _ sandbox.AppConfig, err error) {
	dirs := make([]sandbox.Dir, len(ac.Dirs))
	for i, d := range ac.Dirs {
		dirs[i] = sandbox.Dir{Guest: d.Guest, Host: d.Host, ReadOnly: d.ReadOnly,
			Quota: sandbox.Quota{Bytes: d.Quota, Files: d.QuotaFiles}}
	}
	module, env := ac.Module, ac.Env
	if ac.Runtime == "python" {
		if module, dirs, env, err = pythonApp(ac, pythonDir, dirs); err != nil {
			return "", sandbox.AppConfig{}, fmt.Errorf("site %s app %s: %w", sc.Name, ac.Name, err)
		}
	}
	out, err := outbound(ac.Outbound)
	if err != nil {
		return "", sandbox.AppConfig{}, fmt.Errorf("site %s app %s: %w", sc.Name, ac.Name, err)
	}
	return module, sandbox.AppConfig{
		Name:        sc.Name + "/" + ac.Name,
		Env:         env,
		Dirs:        dirs,
		MemoryLimit: uint64(cfg.Groups[ac.Group].MemoryLimit),
		StackLimit:  uint64(cfg.Groups[ac.Group].StackLimit),
		Snapshot:    ac.Runtime == "python",
		Outbound:    out,
	}, nil
}

// outbound is an app's outbound list as the sandbox enforces it, with
// each tls:// entry's CA file loaded; nil when the list is empty. The
// caller adds the host's own listeners and the app's counters.
func outbound(o sites.Outbound) (*sandbox.Outbound, error) {
	if len(o.Entries) == 0 {
		return nil, nil
	}
	out := &sandbox.Outbound{PerInstance: o.Limit, PerApp: o.AppLimit, ConnectTimeout: o.ConnectTimeout}
	for _, e := range o.Entries {
		se := sandbox.OutboundEntry{TLS: e.TLS, Host: e.Host, Port: e.Port}
		if e.CA != "" {
			b, err := sites.ReadPEM(e.CA)
			if err != nil {
				return nil, fmt.Errorf("outbound %s: %w", e, err)
			}
			se.RootCAs = x509.NewCertPool()
			if !se.RootCAs.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("outbound %s: %s holds no PEM certificate", e, e.CA)
			}
		}
		out.Entries = append(out.Entries, se)
	}
	return out, nil
}
