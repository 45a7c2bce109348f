package host

import (
	"sync"
	"sync/atomic"
	"time"
)

// authLimiter stops password guessing: it counts failed checks per client
// address and per user name (of a site) within a window, and once either
// reaches its limit, further checks from that address or for that user
// are answered 429, with Retry-After, without asking the provider, until
// the window that counted them ends. So a flood can neither test passwords
// fast nor fill the provider's group. It outlives reloads (the Host keeps
// it); the limit and window come from the current config.
type authLimiter struct {
	mu      sync.Mutex
	max     int
	window  time.Duration
	entries map[string]*failures

	failed, limited atomic.Int64 // for /metrics
}

// failures are the failed checks of one key in the window that began at
// since.
type failures struct {
	n     int
	since time.Time
}

// maxLimiterEntries bounds the memory of the limiter: a flood from many
// addresses sweeps what has expired, then starts afresh.
const maxLimiterEntries = 100_000

func newAuthLimiter() *authLimiter { return &authLimiter{entries: map[string]*failures{}} }

// configure sets the limit (0: off) and the window.
func (l *authLimiter) configure(max int, window time.Duration) {
	l.mu.Lock()
	l.max, l.window = max, window
	l.mu.Unlock()
}

func ipKey(ip string) string           { return "ip\x00" + ip }
func userKey(site, user string) string { return "user\x00" + site + "\x00" + user }

// blocked reports whether a check from ip for user of site must wait, and
// for how long.
func (l *authLimiter) blocked(ip, site, user string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max <= 0 {
		return false, 0
	}
	var wait time.Duration
	for _, k := range [...]string{ipKey(ip), userKey(site, user)} {
		f := l.entries[k]
		if f == nil || now.Sub(f.since) >= l.window {
			continue
		}
		if f.n >= l.max {
			wait = max(wait, l.window-now.Sub(f.since))
		}
	}
	if wait > 0 {
		l.limited.Add(1)
		return true, wait
	}
	return false, 0
}

// fail counts a failed check from ip for user of site.
func (l *authLimiter) fail(ip, site, user string, now time.Time) {
	l.failed.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max <= 0 {
		return
	}
	if len(l.entries) >= maxLimiterEntries {
		for k, f := range l.entries {
			if now.Sub(f.since) >= l.window {
				delete(l.entries, k)
			}
		}
		if len(l.entries) >= maxLimiterEntries {
			l.entries = map[string]*failures{}
		}
	}
	for _, k := range [...]string{ipKey(ip), userKey(site, user)} {
		f := l.entries[k]
		if f == nil || now.Sub(f.since) >= l.window {
			f = &failures{since: now}
			l.entries[k] = f
		}
		f.n++
	}
}

// succeed forgets the failures of user of site (not of the address: a
// guesser who also knows one password gains nothing).
func (l *authLimiter) succeed(site, user string) {
	l.mu.Lock()
	delete(l.entries, userKey(site, user))
	l.mu.Unlock()
}
