package sites

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The raw* structs mirror the TOML tables. Every leaf is an any so that a
// value of the wrong type becomes one error among many instead of stopping
// the decoder; tables stay typed so that MetaData.Undecoded finds unknown
// keys.

type rawConfig struct {
	Server *rawServer           `toml:"server"`
	Groups map[string]*rawGroup `toml:"groups"`
	Site   []*rawSite           `toml:"site"`
}

type rawServer struct {
	Listen            any      `toml:"listen"`
	ListenTLS         any      `toml:"listen_tls"`
	TLS               *rawTLS  `toml:"tls"`
	Admin             any      `toml:"admin"`
	AdminTLS          *rawTLS  `toml:"admin_tls"`
	AdminTokenFile    any      `toml:"admin_token_file"`
	CacheDir          any      `toml:"cache_dir"`
	ReadHeaderTimeout any      `toml:"read_header_timeout"`
	MaxBody           any      `toml:"max_body"`
	ShutdownTimeout   any      `toml:"shutdown_timeout"`
	LogFormat         any      `toml:"log_format"`
	Compile           any      `toml:"compile"`
	AccessLog         any      `toml:"access_log"`
	AuthCache         any      `toml:"auth_cache"`
	AuthMaxFailures   any      `toml:"auth_max_failures"`
	AuthFailureWindow any      `toml:"auth_failure_window"`
	AccessLogFile     any      `toml:"access_log_file"`
	MaxConnections    any      `toml:"max_connections"`
	ACME              *rawACME `toml:"acme"`
}

type rawTLS struct {
	Cert       any `toml:"cert"`
	Key        any `toml:"key"`
	ACME       any `toml:"acme"`
	Challenges any `toml:"challenges"`
}

type rawACME struct {
	Email      any `toml:"email"`
	CA         any `toml:"ca"`
	CARoot     any `toml:"ca_root"`
	Storage    any `toml:"storage"`
	Challenges any `toml:"challenges"`
}

type rawGroup struct {
	Instances      any `toml:"instances"`
	MinInstances   any `toml:"min_instances"`
	MaxRequests    any `toml:"max_requests"`
	RequestTimeout any `toml:"request_timeout"`
	QueueTimeout   any `toml:"queue_timeout"`
	IdleTimeout    any `toml:"idle_timeout"`
	MemoryLimit    any `toml:"memory_limit"`
	StackLimit     any `toml:"stack_limit"`
	HardTimeout    any `toml:"hard_timeout"`
}

type rawSite struct {
	Name      any             `toml:"name"`
	Hosts     any             `toml:"hosts"`
	Root      any             `toml:"root"`
	TLS       *rawTLS         `toml:"tls"`
	Redirect  any             `toml:"redirect_https"`
	HSTS      any             `toml:"hsts"`
	App       []*rawApp       `toml:"app"`
	Alias     []*rawAlias     `toml:"alias"`
	Directory []*rawDirectory `toml:"directory"`
	Location  []*rawLocation  `toml:"location"`
}

type rawApp struct {
	Name   any            `toml:"name"`
	Mount  any            `toml:"mount"`
	Module any            `toml:"module"`
	Group  any            `toml:"group"`
	ABI    any            `toml:"abi"`
	Env    map[string]any `toml:"env"`
	Dirs   []*rawDir      `toml:"dirs"`

	Runtime       any `toml:"runtime"`
	WSGI          any `toml:"wsgi"`
	PythonPath    any `toml:"python_path"`
	PythonHome    any `toml:"python_home"`
	CheckPassword any `toml:"check_password"`
	GroupsForUser any `toml:"groups_for_user"`

	Outbound               any `toml:"outbound"`
	OutboundLimit          any `toml:"outbound_limit"`
	OutboundAppLimit       any `toml:"outbound_app_limit"`
	OutboundConnectTimeout any `toml:"outbound_connect_timeout"`
}

type rawDir struct {
	Guest      any `toml:"guest"`
	Host       any `toml:"host"`
	Mode       any `toml:"mode"`
	Quota      any `toml:"quota"`
	QuotaFiles any `toml:"quota_files"`
}

type rawAlias struct {
	URL  any `toml:"url"`
	Path any `toml:"path"`
}

type rawDirectory struct {
	Path    any `toml:"path"`
	Require any `toml:"require"`
	Options any `toml:"options"`
	Auth    any `toml:"auth"`
	Realm   any `toml:"realm"`
}

type rawLocation struct {
	URL               any `toml:"url"`
	Require           any `toml:"require"`
	Options           any `toml:"options"`
	Auth              any `toml:"auth"`
	Realm             any `toml:"realm"`
	PassAuthorization any `toml:"pass_authorization"`
}

// tomlType names the TOML type of a decoded value for error messages.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case []any, []map[string]any:
		return "array"
	case map[string]any:
		return "table"
	case time.Time:
		return "datetime"
	}
	return fmt.Sprintf("%T", v)
}

// str returns v as a string; def when v is absent or of another type (the
// latter is an error).
func (l *loader) str(v any, p path, def string) string {
	if v == nil {
		return def
	}
	s, ok := v.(string)
	if !ok {
		l.errorf(p, "must be a string, not %s", tomlType(v))
		return def
	}
	return s
}

// strList returns v as a list of strings; ok is false (and list nil) when v
// is absent or not an array of strings (the latter is an error).
func (l *loader) strList(v any, p path) (list []string, ok bool) {
	if v == nil {
		return nil, false
	}
	a, isArray := v.([]any)
	if !isArray {
		l.errorf(p, "must be an array of strings, not %s", tomlType(v))
		return nil, false
	}
	list = make([]string, len(a))
	ok = true
	for i, e := range a {
		s, isString := e.(string)
		if !isString {
			l.errorf(p.at(i), "must be a string, not %s", tomlType(e))
			ok = false
		}
		list[i] = s
	}
	if !ok {
		return nil, false
	}
	return list, true
}

// integer returns v as an int; def when absent or invalid.
func (l *loader) integer(v any, p path, def int) int {
	if v == nil {
		return def
	}
	n, ok := v.(int64)
	if !ok {
		l.errorf(p, "must be an integer, not %s", tomlType(v))
		return def
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		l.errorf(p, "%d is out of range", n)
		return def
	}
	return int(n)
}

// boolean returns v as a bool; def when absent or invalid.
func (l *loader) boolean(v any, p path, def bool) bool {
	if v == nil {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		l.errorf(p, "must be true or false, not %s", tomlType(v))
		return def
	}
	return b
}

// duration returns v, a Go duration string such as "30s"; def when absent
// or invalid.
func (l *loader) duration(v any, p path, def time.Duration) time.Duration {
	if v == nil {
		return def
	}
	s, ok := v.(string)
	if !ok {
		l.errorf(p, `must be a duration string such as "30s", not %s`, tomlType(v))
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		l.errorf(p, `invalid duration %q: use a Go duration such as "30s", "5m" or "1h30m"`, s)
		return def
	}
	return d
}

// size returns v, an integer of bytes or a string such as "10MiB"; def when
// absent or invalid.
func (l *loader) size(v any, p path, def int64) int64 {
	switch v := v.(type) {
	case nil:
		return def
	case int64:
		if v < 0 {
			l.errorf(p, "size %d is negative", v)
			return def
		}
		return v
	case string:
		n, err := parseSize(v)
		if err != nil {
			l.errorf(p, "invalid size %q: %v", v, err)
			return def
		}
		return n
	default:
		l.errorf(p, `must be a size such as "64KiB" or a number of bytes, not %s`, tomlType(v))
		return def
	}
}

// sizeUnits maps lower-cased unit suffixes to their multipliers: binary for
// KiB/MiB/GiB/TiB and the bare K/M/G/T, decimal for KB/MB/GB/TB.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
}

var errSizeSyntax = errors.New(`want a whole number with an optional unit: B, KiB, MiB, GiB, TiB (or K, M, G, T), KB, MB, GB, TB`)

// parseSize parses "512", "512B", "64KiB", "10MiB", "1GiB", "10MB", "64K".
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errSizeSyntax
	}
	mult, ok := sizeUnits[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		return 0, errSizeSyntax
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, errors.New("too large")
	}
	return n * mult, nil
}

// formatSize prints n bytes in the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
