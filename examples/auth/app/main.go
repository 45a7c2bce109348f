// Command app is the auth example: a site whose own user database (a file
// in its preopened /data folder, salted PBKDF2-SHA256 hashes) answers the
// host's Basic auth checks, like Django's database behind Apache's
// WSGIAuthUserScript. The host asks it for /admin/ (group staff) and for
// the static alias /private/ (any valid user); the credentials never reach
// any other app.
package main

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/wasgi/wasgi/abi/guest"
	"github.com/wasgi/wasgi/abi/guest/auth"
)

// user is one entry of /data/users.json. Hash is
// "pbkdf2-sha256$ITERATIONS$SALT$KEY" (base64, raw std encoding), the
// format of examples/auth/hashpw.
type user struct {
	Hash   string   `json:"hash"`
	Groups []string `json:"groups"`
}

func loadUsers() (map[string]user, error) {
	b, err := os.ReadFile("/data/users.json")
	if err != nil {
		return nil, err
	}
	var users map[string]user
	return users, json.Unmarshal(b, &users)
}

// verify checks a password against a stored hash in constant time.
func verify(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[2])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

func init() {
	auth.CheckPassword(func(name, password string) (ok, known bool) {
		users, err := loadUsers()
		if err != nil {
			fmt.Fprintln(os.Stderr, "users:", err)
			panic("no user database") // fails closed: the host answers 500
		}
		u, known := users[name]
		if !known {
			return false, false
		}
		return verify(u.Hash, password), true
	})
	auth.GroupsForUser(func(name string) []string {
		users, _ := loadUsers()
		return users[name].Groups
	})

	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Welcome", `<p>Public page. Try <a href="/admin/">/admin/</a> (group staff: alice)
or <a href="/private/report.txt">/private/report.txt</a> (any user: alice or bob).</p>`)
	})
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		env := guest.Environ(r)
		_, sawPassword := env["HTTP_AUTHORIZATION"]
		page(w, "Admin", fmt.Sprintf("<p>Hello %s (AUTH_TYPE %s). The app saw your password: %v.</p>",
			html.EscapeString(env["REMOTE_USER"]), html.EscapeString(env["AUTH_TYPE"]), sawPassword))
	})
	guest.Serve(mux)
}

func page(w http.ResponseWriter, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html>\n<title>%s</title>\n<h1>%s</h1>\n%s\n", title, title, body)
}

func main() {}
