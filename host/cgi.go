package host

import (
	"net/http"
	"strings"

	"github.com/wasgi/wasgi/abi"
	"github.com/wasgi/wasgi/sandbox"
)

// serveCGI runs a CGI app (abi = "cgi") for one request: the wasgi environ
// plus CGI/1.1's and WAGI's own variables, the body on stdin, and argv as
// WAGI builds it (the path, then the query split at '&').
func (h *Host) serveCGI(w *logWriter, r *http.Request, q *request, a *app, maxBody int64) {
	bp := environPool.Get().(*[]byte)
	env := appendEnviron((*bp)[:0], r, q, a)
	add := func(k, v string) { env, _ = abi.AppendEnviron(env, k, v) }
	add("GATEWAY_INTERFACE", "CGI/1.1")
	add("SERVER_SOFTWARE", "wasgi/"+Version)
	add("SCRIPT_FILENAME", a.script)
	add("X_MATCHED_ROUTE", a.route)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	add("X_FULL_URL", scheme+"://"+r.Host+r.RequestURI)
	args := []string{q.scriptName + q.pathInfo}
	if r.URL.RawQuery != "" {
		args = append(args, strings.Split(r.URL.RawQuery, "&")...)
	}
	call := &sandbox.CGICall{
		Env:   env,
		Args:  args,
		Stdin: http.MaxBytesReader(w, r.Body, maxBody),
		W:     sandbox.HTTPResponse(w),
		Log:   a.guestLog.With().Str("request_id", q.id).Logger(),
	}
	err := a.cgi.Serve(r.Context(), call)
	*bp = env[:0]
	environPool.Put(bp)
	if err != nil {
		h.appFailed(w, r, q, a, err, call.Started())
	}
}
