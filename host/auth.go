package host

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasgi/wasgi/abi"
	"github.com/wasgi/wasgi/sandbox"
	"github.com/wasgi/wasgi/sites"
)

// Limits on Basic credentials: longer ones are refused without asking the
// provider app.
const (
	maxUserLen     = 256
	maxPasswordLen = 1024
)

// admit applies an access rule and answers 401 or 403 when it does not let
// the request in. A rule that needs a user asks its auth provider app —
// an app of the same site, in its own sandbox — through
// wasgi_check_password (and wasgi_groups_for_user for group rules), like
// mod_wsgi's WSGIAuthUserScript and WSGIAuthGroupScript.
func (h *Host) admit(w *logWriter, r *http.Request, q *request, s *state, st *site, rule *accessRule) bool {
	ip := remoteAddr(r)
	switch evaluate(rule.require, ip, q.remoteUser, nil) {
	case granted:
		return true
	case denied:
		h.fail(w, r, q, refuse(http.StatusForbidden, nil))
		return false
	}
	user, password, ok := basicCredentials(r)
	if !ok {
		h.challenge(w, r, q, rule)
		return false
	}
	provider := st.apps[rule.auth]
	if provider == nil { // config validation makes this unreachable
		h.fail(w, r, q, refuse(http.StatusInternalServerError, nil))
		return false
	}
	now := time.Now()
	if blocked, wait := h.authLimit.blocked(ip.String(), st.name, user, now); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)+1))
		h.fail(w, r, q, refuse(http.StatusTooManyRequests, nil)) // the access log has it; no event per guess
		return false
	}
	groups, known, err := h.authenticate(r, q, s, provider, user, password, hasGroupRule(rule.require))
	var se *sandbox.StartError
	if errors.As(err, &se) {
		h.startFailed(w, q, provider, se) // 503, logged once per attempt
		return false
	}
	if err != nil {
		provider.log.Error().Err(err).Str("request_id", q.id).Str("stderr", stderrOf(err)).Int("status", statusFor(err)).Msg("auth provider failed")
		h.answer(w, statusFor(err)) // logged just above, with the provider
		return false
	}
	if !known {
		h.authLimit.fail(ip.String(), st.name, user, now)
		h.challenge(w, r, q, rule)
		return false
	}
	h.authLimit.succeed(st.name, user)
	q.remoteUser, q.authType = user, "Basic"
	if evaluate(rule.require, ip, user, groups) != granted {
		h.fail(w, r, q, refuse(http.StatusForbidden, nil)) // a known user, not admitted
		return false
	}
	return true
}

// basicCredentials returns the Basic credentials of a request when they are
// worth asking a provider about: well-formed, a non-empty user without
// control characters, both within their length limits.
func basicCredentials(r *http.Request) (user, password string, ok bool) {
	user, password, ok = r.BasicAuth()
	if !ok || user == "" || len(user) > maxUserLen || len(password) > maxPasswordLen || hasCTL(user) {
		return "", "", false
	}
	return user, password, true
}

// authenticate checks the credentials with the provider app and, when
// asked, fetches the user's groups. ok is false for a wrong password or an
// unknown user; a provider failure is an error, never a way in.
func (h *Host) authenticate(r *http.Request, q *request, s *state, provider *app, user, password string, wantGroups bool) (groups []string, ok bool, err error) {
	key := authKey(provider, user, password)
	var cached *authEntry
	if s.authCache != nil {
		cached = s.authCache.get(key)
	}
	bp := environPool.Get().(*[]byte)
	defer environPool.Put(bp)
	pq := *q
	pq.passAuth = false
	call := &sandbox.Call{
		Environ:  appendEnviron((*bp)[:0], r, &pq, provider),
		Log:      provider.guestLog.With().Str("request_id", q.id).Logger(),
		User:     user,
		Password: password,
	}
	defer func() { *bp = call.Environ[:0] }()
	if cached == nil {
		code, err := provider.pool.CheckPassword(r.Context(), call)
		if err != nil {
			return nil, false, err
		}
		if code != abi.AuthOK {
			return nil, false, nil
		}
		cached = &authEntry{}
	}
	// A cached success from a rule without groups has not asked for them.
	if wantGroups && !cached.hasGroups {
		groups, err := provider.pool.GroupsForUser(r.Context(), call)
		if err != nil {
			return nil, false, err
		}
		cached = &authEntry{groups: append([]string(nil), groups...), hasGroups: true, expires: cached.expires}
	}
	if s.authCache != nil {
		s.authCache.put(key, cached)
	}
	return cached.groups, true, nil
}

// challenge answers 401 with the rule's realm.
func (h *Host) challenge(w *logWriter, r *http.Request, q *request, rule *accessRule) {
	w.Header().Set("WWW-Authenticate", `Basic realm="`+quoteRealm(rule.realm)+`", charset="UTF-8"`)
	h.fail(w, r, q, refuse(http.StatusUnauthorized, nil))
}

// quoteRealm escapes a realm for a quoted-string (RFC 9110 5.6.4).
func quoteRealm(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}

func hasGroupRule(rules []sites.Rule) bool {
	for _, r := range rules {
		if r.Kind == sites.RuleGroup {
			return true
		}
	}
	return false
}

// authKey identifies a positive answer: the provider (hence the site),
// the user and a hash of the password, never the password itself.
func authKey(provider *app, user, password string) string {
	sum := sha256.Sum256([]byte(provider.site + "\x00" + provider.name + "\x00" + user + "\x00" + password))
	return string(sum[:])
}

// authCache remembers positive auth answers for a short TTL, so that a
// page with 50 protected assets does not call the provider 50 times.
// Failures are never cached. It belongs to one loaded config: a reload
// starts afresh.
type authCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]authEntry
}

type authEntry struct {
	groups    []string
	hasGroups bool // groups were asked for (a group rule was checked)
	expires   time.Time
}

// maxAuthEntries bounds the cache; when full it is emptied.
const maxAuthEntries = 10000

func newAuthCache(ttl time.Duration) *authCache {
	return &authCache{ttl: ttl, m: map[string]authEntry{}}
}

// get returns a live entry, or nil.
func (c *authCache) get(key string) *authEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || time.Now().After(e.expires) {
		delete(c.m, key)
		return nil
	}
	return &e
}

// put stores an entry; a refreshed one keeps its first expiry, so a busy
// user is still re-checked every TTL.
func (c *authCache) put(key string, e *authEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxAuthEntries {
		clear(c.m)
	}
	if e.expires.IsZero() {
		e.expires = time.Now().Add(c.ttl)
	}
	c.m[key] = *e
}
