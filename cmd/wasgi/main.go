// Command wasgi hosts many web sites, each a WebAssembly app in its own
// wazero sandbox, declared in one TOML file.
//
//	wasgi serve [-c wasgi.toml] [-listen ADDR,...]
//	                              run the host
//	wasgi check [-c wasgi.toml]   validate the config and compile every module
//	wasgi sites [-c wasgi.toml]   print the sites, hosts, mounts and groups
//	wasgi manage [-c wasgi.toml] SITE/APP ARGS...
//	                              run a Python app's manage.py in its sandbox
//	wasgi version                 print the version
//	wasgi import apache [-o wasgi.toml] httpd.conf...
//	                              translate Apache + mod_wsgi configuration
//	wasgi new go|c|python DIR     write a buildable app, its wasgi.toml and
//	                              README into the new or empty folder DIR
//
// SIGHUP reloads the config (a bad one is refused and the old one keeps
// serving); SIGUSR1 reopens the access log file (logrotate); SIGTERM and
// SIGINT drain in-flight requests and exit 0.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/wasgi/wasgi/host"
	"github.com/wasgi/wasgi/sandbox"
	"github.com/wasgi/wasgi/sites"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, nil)) }

const usage = `usage: wasgi <command> [-c wasgi.toml]

commands:
  serve    run the host (-listen ADDR,... overrides server.listen)
  check    validate the config and compile every module
  sites    print the sites, hosts, mounts, aliases and groups
  manage   run a Python app's manage.py in the app's own sandbox:
           wasgi manage [-c wasgi.toml] [-timeout 0] [-e KEY=VALUE]... SITE/APP migrate
  version  print the version
  import   translate Apache + mod_wsgi configuration:
           wasgi import apache [-o wasgi.toml] httpd.conf...
  new      start an app outside the wasgi repository: a buildable skeleton
           with its wasgi.toml and README in a new or empty folder:
           wasgi new go|c|python DIR
`

// commandArgs is what follows each command's name in its usage line.
var commandArgs = map[string]string{
	"serve":   " [-c wasgi.toml] [-listen ADDR,...]",
	"check":   " [-c wasgi.toml]",
	"sites":   " [-c wasgi.toml]",
	"manage":  " [-c wasgi.toml] [-timeout 0] [-e KEY=VALUE]... SITE/APP [manage.py arguments...]",
	"version": "",
}

// run is main without os.Exit; ready, when not nil, receives the host once
// it listens (for tests).
func run(args []string, stdout, stderr io.Writer, ready chan<- *host.Host) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd := args[0]
	switch cmd {
	case "import":
		return importConfig(args[1:], stdout, stderr)
	case "new":
		return newCommand(args[1:], stdout, stderr)
	}
	switch cmd {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	if _, ok := commandArgs[cmd]; !ok {
		fmt.Fprintf(stderr, "wasgi: unknown command %q\n%s", cmd, usage)
		return 2
	}
	fs := flag.NewFlagSet("wasgi "+cmd, flag.ContinueOnError)
	config := fs.String("c", "wasgi.toml", "config file")
	// Each command has only its own flags: -listen given to check is a
	// mistake to point out, not to ignore.
	var listen string
	var timeout time.Duration
	var env envFlag
	switch cmd {
	case "serve":
		fs.StringVar(&listen, "listen", "", "listen on these addresses (comma-separated host:port) instead of the config's server.listen")
	case "manage":
		fs.DurationVar(&timeout, "timeout", 0, "stop the command after this long (0: never)")
		fs.Var(&env, "e", "KEY=VALUE added to the app's environment for this run (repeatable)")
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: wasgi %s%s\n\nflags:\n", cmd, commandArgs[cmd])
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args[1:], stdout, stderr); !ok {
		return code
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "wasgi", host.Version)
		return 0
	case "serve", "check", "sites":
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "wasgi %s: unexpected arguments %q\n", cmd, fs.Args())
			return 2
		}
	case "manage":
		if fs.NArg() == 0 {
			fmt.Fprintf(stderr, "usage: wasgi manage%s\n", commandArgs["manage"])
			return 2
		}
	}
	cfg, err := sites.Load(*config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if listen != "" {
		cfg.Server.Listen = strings.Split(listen, ",")
	}
	switch cmd {
	case "manage":
		log := host.NewLogger(stderr, "console").Level(zerolog.WarnLevel)
		code, err := host.Manage(context.Background(), cfg, fs.Arg(0), fs.Args()[1:], host.RunOptions{
			Stdin: os.Stdin, Stdout: stdout, Stderr: stderr, Timeout: timeout, Log: log, Env: env.m,
		})
		if err != nil {
			fmt.Fprintf(stderr, "wasgi manage: %v\n", err)
			return 1
		}
		return code
	case "sites":
		if err := cfg.WriteTable(stdout); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	case "check":
		log := host.NewLogger(stderr, "console")
		if err := host.Check(context.Background(), cfg, log); err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, cfg.File+":") { // config problems name file:line already
				msg = cfg.File + ": " + msg
			}
			fmt.Fprintln(stderr, msg)
			return 1
		}
		fmt.Fprintf(stdout, "%s: OK, %d sites\n", cfg.File, len(cfg.Sites))
		return 0
	}
	return serve(cfg, *config, stderr, ready)
}

func serve(cfg *sites.Config, path string, stderr io.Writer, ready chan<- *host.Host) int {
	log := host.NewLogger(stderr, cfg.Server.LogFormat)
	sandbox.SetGOMAXPROCS() // guests cannot be preempted: see sandbox/sched.go
	ctx := context.Background()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	defer signal.Stop(sigs)

	h, err := host.New(ctx, cfg, log)
	if err != nil {
		log.Error().Err(err).Msg("start")
		return 1
	}
	if err := h.Listen(); err != nil {
		log.Error().Err(err).Msg("start")
		h.Shutdown(ctx)
		return 1
	}
	log.Info().Str("config", cfg.File).Int("sites", len(cfg.Sites)).Str("version", host.Version).Msg("wasgi started")
	if ready != nil {
		ready <- h
	}
	for sig := range sigs {
		switch sig {
		case syscall.SIGHUP:
			reload(ctx, h, path, log)
			continue
		case syscall.SIGUSR1:
			// Logged also without an access_log_file: the operator who
			// sent the signal sees that it arrived.
			if _, err := h.ReopenLogs(); err != nil {
				log.Error().Err(err).Msg("reopen logs")
			} else {
				log.Info().Msg("access log reopened")
			}
			continue
		}
		log.Info().Str("signal", sig.String()).Dur("timeout", cfg.Server.ShutdownTimeout).Msg("draining")
		sctx, cancel := context.WithTimeout(ctx, cfg.Server.ShutdownTimeout)
		err := h.Shutdown(sctx)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			log.Error().Err(err).Msg("shutdown")
		}
		log.Info().Msg("stopped")
		break
	}
	return 0
}

// reload re-reads the config; on any error the running config stays.
func reload(ctx context.Context, h *host.Host, path string, log zerolog.Logger) {
	cfg, err := sites.Load(path)
	if err == nil {
		err = h.Reload(ctx, cfg)
	} else {
		h.ReloadFailed(err) // Reload records the others, for the status page
	}
	if err != nil {
		var errs sites.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				log.Error().Str("file", e.File).Int("line", e.Line).Str("key", e.Key).Msg(e.Msg)
			}
		}
		log.Error().Err(err).Msg("reload refused; the old config keeps serving")
		return
	}
	log.Info().Str("config", cfg.File).Int("sites", len(cfg.Sites)).Msg("reloaded")
}

// parseFlags parses args into fs. The usage asked for with -h or -help
// goes to stdout and exits 0, as a help request succeeded; a bad flag's
// message and the usage go to stderr and exit 2. ok is false when the
// command should exit with code.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	var out bytes.Buffer
	fs.SetOutput(&out)
	defer fs.SetOutput(stderr)
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		stdout.Write(out.Bytes())
		return 0, false
	}
	stderr.Write(out.Bytes())
	return 2, false
}

// envFlag collects -e KEY=VALUE flags.
type envFlag struct{ m map[string]string }

func (e *envFlag) String() string { return "" }

func (e *envFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, not %q", s)
	}
	if e.m == nil {
		e.m = map[string]string{}
	}
	e.m[k] = v
	return nil
}
