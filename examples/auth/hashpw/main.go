// Command hashpw prints a users.json entry for the auth example:
//
//	go run ./examples/auth/hashpw alice wonderland staff
package main

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
)

// iterations is a compromise: each check runs inside the sandbox, where
// hashing is slower than native; [server] auth_cache spares repeats.
const iterations = 20000

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: hashpw USER PASSWORD [GROUP...]")
		os.Exit(2)
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, os.Args[2], salt, iterations, 32)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	entry := map[string]any{os.Args[1]: map[string]any{
		"hash":   fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", iterations, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)),
		"groups": append([]string{}, os.Args[3:]...),
	}}
	b, _ := json.MarshalIndent(entry, "", "  ")
	fmt.Println(string(b))
}
