package host

import (
	"net/http"
)

// serveAlias serves a static alias. (Static files land with issue #3.)
func (h *Host) serveAlias(w *logWriter, r *http.Request, q *request, a *alias, p string) {
	h.fail(w, r, q, http.StatusNotFound, nil)
}
