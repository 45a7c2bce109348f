// Package sites loads the wasgi configuration: the TOML file that declares
// the server, the daemon groups and the sites with their apps, aliases,
// directories and locations.
//
// Loading follows one lifecycle: TOML → plain structs → defaults → validate →
// resolved, frozen value. Relative paths are made absolute (a site's paths
// against its root, everything else against the config file's folder),
// sizes and durations are parsed, every app gets a group (a private one when
// it names none), and conflicts such as two sites claiming one host or an
// alias shadowing an app mount are load-time errors.
//
// Every problem found is reported, not only the first: [Load] and [Parse]
// return an [Errors] value whose entries carry the file, line, column and the
// dotted TOML key, in the form "wasgi.toml:12:3: site.app.mount: ...".
//
// A [Config] returned without error is complete and never changes afterwards;
// callers may share it between goroutines.
//
// This package imports nothing else of the project: the host translates a
// Config into the sandbox's own option types.
package sites

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// Config is a loaded, validated configuration file.
type Config struct {
	// File is the absolute path of the config file ("" when parsed from
	// bytes without a file name).
	File string
	// Server holds the [server] table with defaults applied.
	Server Server
	// Groups holds every group by name: the [groups.NAME] tables and the
	// private groups made for apps that name no group.
	Groups map[string]*Group
	// Sites lists the [[site]] tables in file order.
	Sites []*Site
}

// Server is the [server] table: listeners and process-wide settings.
type Server struct {
	// Listen lists the addresses (host:port) to serve plain HTTP on;
	// default ["127.0.0.1:8080"], none when listen_tls is set and listen
	// is not. With tls and no listen_tls (the form of earlier versions),
	// the listen addresses move to ListenTLS and Listen is empty.
	Listen []string
	// ListenTLS lists the addresses to serve HTTPS (and HTTP/2) on.
	ListenTLS []string
	// TLS is the default certificate of the HTTPS listeners: the one
	// served to a client whose SNI names no site with a certificate of
	// its own; nil for none.
	TLS *TLS
	// Admin is the host:port of the admin endpoints (/healthz, /readyz,
	// /metrics); "" means off.
	Admin string
	// AdminTLS, when set, makes the admin listener speak HTTPS only.
	AdminTLS *TLS
	// AdminTokenFile, when set, is the absolute path of a file holding
	// the bearer token every admin page but /healthz and /readyz requires.
	AdminTokenFile string
	// CacheDir is the absolute path of the on-disk compilation cache;
	// default "<config dir>/.wasgi-cache".
	CacheDir string
	// ReadHeaderTimeout bounds reading a request's headers; default 10s.
	ReadHeaderTimeout time.Duration
	// MaxBody is the largest request body in bytes; default 10 MiB.
	MaxBody int64
	// ShutdownTimeout bounds draining in-flight requests; default 30s.
	ShutdownTimeout time.Duration
	// MaxConnections bounds the open client connections of each listen
	// address; more wait in the kernel's accept queue. Default 10000.
	MaxConnections int
	// AccessLogFile is where the access log goes (absolute); "" =
	// stdout. SIGUSR1 reopens it, for logrotate.
	AccessLogFile string
	// AuthCache is how long a successful Basic auth check is remembered
	// per (site, provider, user, password hash); 0 (default) = never.
	AuthCache time.Duration
	// AuthMaxFailures is how many failed password checks a client
	// address, or a user name, may make within AuthFailureWindow before
	// further checks are refused with 429 without asking the provider;
	// 0 turns the limit off. Default 10 in 5 minutes.
	AuthMaxFailures   int
	AuthFailureWindow time.Duration
	// LogFormat is "json" (default) or "console".
	LogFormat string
	// Compile is "eager" (default: every module is compiled, and checked,
	// before the host serves) or "lazy": a reactor app whose group keeps no
	// warm instances and that answers no auth checks is compiled on its
	// first request, so a host of many different apps is ready at once.
	Compile string
	// AccessLog is "combined" (default), "json" or "off".
	AccessLog string
	// ACME is the [server.acme] table: where certificates of the sites
	// with tls = { acme = true } come from. Never nil after loading.
	ACME *ACME
}

// TLS is where the certificates of a site (or the default of the HTTPS
// listeners, or the admin listener's) come from: a certificate and key
// file, or, with ACME, a CA that issues and renews them automatically.
type TLS struct {
	// Cert is the PEM certificate chain (absolute path); "" with ACME.
	Cert string
	// Key is the PEM private key (absolute path); "" with ACME.
	Key string
	// CertAt and KeyAt locate the cert and key keys in the config file,
	// for problems found when the files are read (`wasgi check`).
	CertAt, KeyAt Pos
	// ACME is true for certificates obtained from [server.acme]'s CA for
	// the site's hosts.
	ACME bool
	// Challenges are the ACME challenge types that may prove the site's
	// names ("http-01", "tls-alpn-01"); [server.acme]'s when not set.
	Challenges []string
}

// ACME challenge types.
const (
	// HTTP01 answers the CA on a plain HTTP listener (port 80 for a
	// public CA), at /.well-known/acme-challenge/.
	HTTP01 = "http-01"
	// TLSALPN01 answers the CA in a TLS handshake on an HTTPS listener
	// (port 443 for a public CA).
	TLSALPN01 = "tls-alpn-01"
)

// LetsEncrypt is the default ACME directory: Let's Encrypt's production CA.
const LetsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"

// ACME is the [server.acme] table.
type ACME struct {
	// Email is given to the CA with the account (expiry notices); "" for
	// none.
	Email string
	// CA is the ACME directory URL; default LetsEncrypt.
	CA string
	// CARoot is a PEM file of the CA certificates to trust for the
	// directory (absolute path; a private or test CA); "" = system roots.
	CARoot string
	// Storage is the folder of account keys, certificates and locks
	// (absolute path); default "<cache_dir>/acme".
	Storage string
	// Challenges are the challenge types sites use unless their tls says
	// otherwise; default both, in the order HTTP01, TLSALPN01.
	Challenges []string
}

// Pos is where a key is in the config file.
type Pos struct {
	// File is the config file's name as given to Load or Parse.
	File string
	// Line and Col count from 1; 0 when unknown.
	Line, Col int
	// Key is the dotted TOML key.
	Key string
}

// Errorf returns a problem at p.
func (p Pos) Errorf(format string, args ...any) *Error {
	return &Error{File: p.File, Line: p.Line, Col: p.Col, Key: p.Key, Msg: fmt.Sprintf(format, args...)}
}

// Group is a daemon group, like mod_wsgi's WSGIDaemonProcess: the pool
// settings shared by the apps that name it.
type Group struct {
	// Name is the key of the group in Config.Groups.
	Name string
	// Private is true for a group made for one app that named no group;
	// Name is then "<site>/<app>".
	Private bool
	// Instances is the most instances alive at once; default 4, >= 1.
	Instances int
	// MinInstances is how many instances are kept warm; default 0,
	// at most Instances.
	MinInstances int
	// MaxRequests recycles an instance after that many requests;
	// 0 (default) never recycles.
	MaxRequests int
	// RequestTimeout stops a request running longer; default 60s.
	RequestTimeout time.Duration
	// QueueTimeout bounds waiting for a free instance; default 10s.
	QueueTimeout time.Duration
	// IdleTimeout drops instances idle that long; default 5m.
	IdleTimeout time.Duration
	// MemoryLimit caps an instance's linear memory in bytes; default
	// 256 MiB, at least 64 KiB, always a multiple of the 64 KiB wasm page.
	MemoryLimit int64
	// StackLimit caps what one call's frames may add up to on the
	// engine's native stack, outside linear memory, in bytes; default
	// 8 MiB, 64 KiB .. 256 MiB.
	StackLimit int64
	// HardTimeout is the deprecated hard_timeout key (default true). It
	// once traded the stopping of guests at RequestTimeout for speed; the
	// host now stops every guest at no measurable cost, reads it only to
	// warn that false is ignored, and keeps it so old configs still load.
	HardTimeout bool
}

// Site is one [[site]] table: a virtual host with its apps and static files.
type Site struct {
	// Name identifies the site in logs and group names.
	Name string
	// Hosts are the lower-cased host names the site answers: exact names,
	// "*.example.com" wildcards and "*" for the default site.
	Hosts []string
	// Root is the absolute folder the site's relative paths resolve
	// against; default the config file's folder.
	Root string
	// TLS is the site's own certificate, served to clients whose SNI
	// names one of its hosts; nil: the [server] tls default.
	TLS *TLS
	// RedirectHTTPS answers plain HTTP requests with a 308 to https://.
	RedirectHTTPS bool
	// HSTS, when not "", is the Strict-Transport-Security value added to
	// the site's HTTPS answers.
	HSTS string
	// Apps lists the [[site.app]] tables in file order.
	Apps []*App
	// Aliases lists the [[site.alias]] tables in file order.
	Aliases []*Alias
	// Directories lists the [[site.directory]] tables in file order.
	Directories []*Directory
	// Locations lists the [[site.location]] tables in file order.
	Locations []*Location
}

// App is one [[site.app]] table: a WebAssembly module mounted at a URL
// prefix, like WSGIScriptAlias.
type App struct {
	// Name identifies the app within its site.
	Name string
	// Mount is the URL prefix that becomes SCRIPT_NAME. It starts with "/"
	// and has no trailing slash, except for the root "/" itself.
	Mount string
	// Module is the absolute path of the .wasm file.
	Module string
	// Group is the key of the app's group in Config.Groups.
	Group string
	// ABI is "wasgi" (default) or "cgi".
	ABI string
	// Runtime is "" for a module of the user's own, or "python" for a
	// Python WSGI app run by the host's Python runtime (Module is then
	// empty and the Python fields below apply).
	Runtime string
	// Python describes a Python WSGI app; nil unless Runtime is "python".
	Python *PythonApp
	// Env holds the app's own environment; never nil.
	Env map[string]string
	// Dirs are the WASI preopens.
	Dirs []Dir
	// Outbound is what the app's guests may connect to.
	Outbound Outbound
}

// PythonApp is the Python side of an app with runtime = "python": the
// keys that replace mod_wsgi's WSGIScriptAlias target, WSGIPythonPath,
// WSGIPythonHome and WSGIAuthUserScript/WSGIAuthGroupScript.
type PythonApp struct {
	// WSGI names the application callable as "package.module:name"
	// (":application" when the name is left out).
	WSGI string
	// Path lists absolute host folders put on sys.path, in order
	// (WSGIPythonPath, python-path=).
	Path []string
	// Home is the absolute folder of a virtual environment whose
	// lib/python3.11/site-packages is put on sys.path after Path
	// (WSGIPythonHome, python-home=); "" for none.
	Home string
	// CheckPassword names the function answering wasgi_check_password,
	// "module:function", called as f(environ, user, password) and
	// returning True, False or None (WSGIAuthUserScript); "" for none.
	CheckPassword string
	// GroupsForUser names the function answering wasgi_groups_for_user,
	// called as f(environ, user) and returning a list of group names
	// (WSGIAuthGroupScript); "" for none.
	GroupsForUser string
}

// Dir is one WASI preopen of an app.
type Dir struct {
	// Guest is the absolute, clean path the guest sees.
	Guest string
	// Host is the absolute path of the host folder.
	Host string
	// ReadOnly is true for mode "ro" (the default), false for "rw".
	ReadOnly bool
	// Quota is the most bytes a rw dir may hold; 0: no limit.
	Quota int64
	// QuotaFiles is the most entries (files, directories, links) a rw dir
	// may hold; 0: no limit.
	QuotaFiles int64
}

// Alias is one [[site.alias]] table: a URL served from the file system,
// like Apache's Alias.
type Alias struct {
	// URL is the URL prefix (ending in "/") or the exact URL of one file.
	URL string
	// Path is the absolute path of the folder or file.
	Path string
	// File is true when URL does not end in "/": the alias serves one file.
	File bool
}

// Directory is one [[site.directory]] table: access rules for a file-system
// path, like Apache's <Directory>.
type Directory struct {
	// Path is the absolute path of the folder.
	Path string
	// Require lists the rules; any one admits.
	Require []Rule
	// Options enables symlink following and listings.
	Options Options
	// Auth names the app of the same site that checks passwords; "" = none.
	Auth string
	// Realm is the Basic auth realm; defaults to the site name when Auth
	// is set.
	Realm string
}

// Location is one [[site.location]] table: access rules for a URL prefix,
// like Apache's <Location>.
type Location struct {
	// URL is the URL prefix.
	URL string
	// Require lists the rules; any one admits.
	Require []Rule
	// Options enables symlink following and listings.
	Options Options
	// Auth names the app of the same site that checks passwords; "" = none.
	Auth string
	// Realm is the Basic auth realm; defaults to the site name when Auth
	// is set.
	Realm string
	// PassAuthorization passes the Authorization header on to the app,
	// like WSGIPassAuthorization; default false.
	PassAuthorization bool
}

// Options are the "options" of a directory or location.
type Options struct {
	// FollowSymLinks allows symlinks that leave an alias root.
	FollowSymLinks bool
	// Indexes allows directory listings.
	Indexes bool
}

// Load reads and validates the config file at path. On failure the error is
// an [Errors] value listing every problem found.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, Errors{{File: path, Msg: "cannot read config: " + err.Error()}}
	}
	return Parse(path, data)
}

// Parse reads and validates a config from data. File names the config in
// error messages, and its folder is the base of relative paths ("" means the
// current directory). On failure the error is an [Errors] value listing every
// problem found.
func Parse(file string, data []byte) (*Config, error) {
	return parse(file, data)
}

// Keys returns every config key, by table ("server", "groups.*", "site",
// "site.app", ...), for tools and for checking the docs.
func Keys() map[string][]string {
	out := make(map[string][]string, len(knownKeys))
	for table, keys := range knownKeys {
		out[table] = append([]string(nil), keys...)
	}
	return out
}

// ValidHost reports whether h may be listed in a site's hosts: a host
// name, a "*.domain" wildcard or "*".
func ValidHost(h string) bool { return validHost(h) }

// CheckURLPath says what is wrong with u as a mount or URL prefix ("is
// empty", "must start with /", ...), or returns "" when it is fine.
func CheckURLPath(u string) string { return checkURLPath(u) }

// Defaults of [server] auth_max_failures and auth_failure_window.
const (
	DefaultAuthMaxFailures   = 10
	DefaultAuthFailureWindow = 5 * time.Minute
)
