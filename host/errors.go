package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/wasgi/wasgi/sandbox"
)

// Errors to statuses. Every error status the host answers is chosen by
// statusFor, and written (and, when there is something to act on, logged
// once) by fail or appFailed: a call site says what went wrong, not which
// status it makes.

// refusal is a request the host turns away itself, with the status that
// says why and, when there is one, the cause (logged by fail).
type refusal struct {
	status int
	cause  error
}

func (e *refusal) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%d %s: %v", e.status, http.StatusText(e.status), e.cause)
	}
	return fmt.Sprintf("%d %s", e.status, http.StatusText(e.status))
}

func (e *refusal) Unwrap() error { return e.cause }

// refuse is the error of a request the host answers with status; cause,
// when not nil, is what the log says.
func refuse(status int, cause error) error { return &refusal{status, cause} }

var errNoResponse = errors.New("app returned without calling start_response")

// statusFor is the one place where errors become status codes.
func statusFor(err error) int {
	var r *refusal
	switch {
	case errors.As(err, &r):
		return r.status
	case errors.Is(err, sandbox.ErrQueueTimeout), errors.Is(err, sandbox.ErrClosed), errors.Is(err, sandbox.ErrStartFailed):
		return http.StatusServiceUnavailable
	case errors.Is(err, sandbox.ErrTimeout):
		return http.StatusGatewayTimeout
	case errors.Is(err, sandbox.ErrBadGateway):
		return http.StatusBadGateway
	case errors.Is(err, context.Canceled):
		return 499 // the client went away while queued (nginx's code)
	}
	return http.StatusInternalServerError
}

// fileError is how a static file that cannot be opened is answered: 404
// when it is not there, 403 for anything else (not readable, a link on
// the way, which is never followed), so that what exists is not told
// apart from what may not be read beyond that.
func fileError(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ENAMETOOLONG) {
		return refuse(http.StatusNotFound, nil)
	}
	return refuse(http.StatusForbidden, nil)
}

// fail answers err's status with a short plain-text body. A refusal's
// cause (a malformed path, ambiguous framing) is logged once here, at
// info level: the client erred, and the access log has the status either
// way. Other causes of a 5xx are logged at error level.
func (h *Host) fail(w *logWriter, r *http.Request, q *request, err error) {
	status := statusFor(err)
	var rf *refusal
	switch {
	case errors.As(err, &rf) && rf.cause != nil:
		h.log.Info().Err(rf.cause).Str("request_id", q.id).Str("host", r.Host).Int("status", status).Msg("request refused")
	case !errors.As(err, &rf) && status >= 500:
		h.log.Error().Err(err).Str("request_id", q.id).Str("host", r.Host).Int("status", status).Msg("request failed")
	}
	h.answer(w, status)
}

// appFailed answers and logs a failed app request, reactor or CGI. Once
// the headers are gone, all that is left is to make sure the client cannot
// mistake a cut-off body for a whole one: the connection is aborted.
func (h *Host) appFailed(w *logWriter, r *http.Request, q *request, a *app, err error, started bool) {
	if started {
		a.log.Error().Err(err).Str("request_id", q.id).Str("stderr", stderrOf(err)).Msg("app failed after its response started")
		panic(http.ErrAbortHandler)
	}
	var se *sandbox.StartError
	if errors.As(err, &se) {
		h.startFailed(w, q, a, se)
		return
	}
	var lf *lazyFailure
	if errors.As(err, &lf) {
		// One event for a module that does not compile, not one per
		// request: nothing changes until a reload.
		h.answer(w, http.StatusInternalServerError)
		if lf.first {
			a.log.Error().Err(lf.err).Str("request_id", q.id).Msg("app module does not compile (compile = \"lazy\"): its requests get 500 until a reload")
		}
		return
	}
	status := statusFor(err)
	h.answer(w, status) // logged below, with the app
	if errors.Is(err, sandbox.ErrQueueTimeout) {
		// Overload: these come by the thousand per second, all alike (26,000
		// events in 10 s of bench/isolation.sh, which cost the host's other
		// sites CPU). Each is in the access log and in
		// wasgi_group_queue_timeouts_total; the log gets one event a second
		// at most, counting the others.
		if n, ok := a.refusals.take(time.Now()); ok {
			a.log.Error().Err(err).Str("request_id", q.id).Int("status", status).Int64("refused", n).
				Msg("app request failed (refused: the count of such 503s since the last event)")
		}
		return
	}
	ev := a.log.Error()
	if status < 500 {
		ev = a.log.Info()
	}
	ev.Err(err).Str("request_id", q.id).Int("status", status).Str("stderr", stderrOf(err)).Msg("app request failed")
}

// startFailed answers a request that needed a new instance of an app
// whose instances fail to start: 503, with a Retry-After until the next
// attempt. Only a request whose own start attempt failed is logged (once
// per attempt, as the backoff allows them), with what the guest wrote
// while starting (a Python traceback); the requests refused meanwhile
// are in the access log.
func (h *Host) startFailed(w *logWriter, q *request, a *app, se *sandbox.StartError) {
	wait := time.Until(se.RetryAt)
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	h.answer(w, statusFor(se)) // 503
	if se.Attempt {
		a.log.Error().AnErr("error", se.Err.Err).Str("request_id", q.id).Str("stderr", se.Err.Stderr).
			Int64("failures", se.Failures).Dur("retry_in", wait).
			Msg("app failed to start")
	}
}

func stderrOf(err error) string {
	var g *sandbox.GuestError
	if errors.As(err, &g) {
		return g.Stderr
	}
	return ""
}

// answer writes status with a short plain-text body.
func (h *Host) answer(w *logWriter, status int) {
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusServiceUnavailable && hd.Get("Retry-After") == "" {
		hd.Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, "%d %s\n", status, http.StatusText(status))
}

// refusalLog rate-limits the events of an app's queue_timeout 503s.
type refusalLog struct {
	mu    sync.Mutex
	last  time.Time // the last event
	count int64     // refusals since it, this one included when logged
}

// refusalEvery is the most often an app logs its queue_timeout 503s.
const refusalEvery = time.Second

// take counts a refusal at now and reports whether to log it, with the
// number of refusals it stands for (itself and those not logged since the
// last event).
func (l *refusalLog) take(now time.Time) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count++
	if now.Sub(l.last) < refusalEvery {
		return 0, false
	}
	n := l.count
	l.last, l.count = now, 0
	return n, true
}
