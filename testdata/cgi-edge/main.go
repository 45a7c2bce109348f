// Command cgi-edge is a CGI program (abi = "cgi") that answers each
// PATH_INFO with a different edge of the CGI response contract.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	out := os.Stdout
	path := os.Getenv("PATH_INFO")
	if strings.HasPrefix(path, "/env") {
		path = "/env"
	}
	switch path {
	case "/no-status":
		fmt.Fprint(out, "Content-Type: text/plain\n\nplain 200\n")
	case "/status":
		fmt.Fprint(out, "Status: 201 Created\r\nContent-Type: text/plain\r\nX-Extra: yes\r\n\r\ncreated\n")
	case "/bad-status":
		fmt.Fprint(out, "Status: two hundred\nContent-Type: text/plain\n\nx")
	case "/location":
		fmt.Fprint(out, "Location: /elsewhere\n\n")
	case "/no-content-type":
		fmt.Fprint(out, "X-A: 1\n\nbody without a type")
	case "/no-colon":
		fmt.Fprint(out, "Content-Type: text/plain\nthis line has no colon\n\nx")
	case "/injection":
		fmt.Fprint(out, "Content-Type: text/plain\nX-A: 1\rSet-Cookie: evil=1\n\nx")
	case "/exit-early":
		os.Exit(3)
	case "/stderr-only":
		fmt.Fprintln(os.Stderr, "only stderr from this program")
	case "/no-blank-line":
		fmt.Fprint(out, "Content-Type: text/plain\n")
	case "/exit-after-output":
		fmt.Fprint(out, "Content-Type: text/plain\n\npartial")
		os.Exit(4)
	case "/env":
		fmt.Fprint(out, "Content-Type: text/plain\n\n")
		for _, kv := range os.Environ() {
			fmt.Fprintln(out, kv)
		}
		for _, a := range os.Args {
			fmt.Fprintln(out, "arg:"+a)
		}
		b, _ := io.ReadAll(os.Stdin)
		fmt.Fprintln(out, "stdin:"+string(b))
	case "/spin":
		for i := 0; ; i++ {
			_ = strings.Repeat("x", i%3)
		}
	default:
		fmt.Fprint(out, "Status: 404\nContent-Type: text/plain\n\nnot found\n")
	}
}
