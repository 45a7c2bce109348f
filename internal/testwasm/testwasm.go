// Package testwasm builds the Go guests that tests run: real .wasm files,
// built with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared by the go command
// that runs the tests, once per test process.
package testwasm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/wasgi/wasgi/internal/setup"
)

var (
	mu    sync.Mutex
	built = map[string]string{}
)

// Root returns the module's root directory.
func Root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("testwasm: go.mod not found")
		}
		dir = parent
	}
}

// Build builds the package at pkg (a path relative to the module root, like
// "examples/hello") as a wasgi reactor and returns the path of the .wasm.
// Go's build cache makes a rebuild cheap; the output lives in a shared temp
// folder and is replaced atomically, so parallel test processes can share it.
func Build(tb testing.TB, pkg string) string {
	tb.Helper()
	return build(tb, pkg, "-buildmode=c-shared")
}

// BuildCommand builds the package at pkg as a plain WASI command (a CGI
// program for abi = "cgi").
func BuildCommand(tb testing.TB, pkg string) string {
	tb.Helper()
	return build(tb, pkg, "-buildmode=exe")
}

func build(tb testing.TB, pkg, mode string) string {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[pkg+mode]; ok {
		return p
	}
	root := Root(tb)
	sum := sha256.Sum256([]byte(root + "\x00" + pkg + "\x00" + mode))
	dir := filepath.Join(os.TempDir(), "wasgi-testwasm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	out := filepath.Join(dir, filepath.Base(pkg)+"-"+hex.EncodeToString(sum[:6])+".wasm")
	tmp, err := os.CreateTemp(dir, "build-*.wasm")
	if err != nil {
		tb.Fatal(err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command(Go(), "build", mode, "-o", tmp.Name(), "./"+pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("testwasm: build %s: %v\n%s", pkg, err, b)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		tb.Fatal(err)
	}
	built[pkg+mode] = out
	return out
}

// Go returns the go command: the one on PATH, else the one of the
// toolchain that built the test.
func Go() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// BuildC compiles a C source file (relative to the module root) with
// clang for wasm32-wasi, as a reactor or a command, with abi/include on
// the include path. It skips the test when clang or wasi-libc is missing,
// or fails it where they are required (see Clang).
func BuildC(tb testing.TB, src string, reactor bool) string {
	tb.Helper()
	return compiled(tb, fmt.Sprint(src, reactor), strings.TrimSuffix(filepath.Base(src), ".c"), func(root, out string) {
		args := []string{"--target=wasm32-wasi", "-O2", "-I", filepath.Join(root, "abi", "include"), "-o", out, filepath.Join(root, src)}
		if reactor {
			args = append([]string{"-mexec-model=reactor"}, args...)
		}
		Clang(tb, "", args...)
	})
}

// clangPackages says what installs clang for wasm32-wasi.
const clangPackages = "apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32 (or run " + setup.Command + ")"

// Clang runs clang with args in dir (the current folder when dir is ""),
// failing the test if it fails. It skips the test when clang or its
// wasi-libc is missing (`apt-get install clang lld wasi-libc
// libclang-rt-14-dev-wasm32`), or fails it where they are required
// (Missing).
func Clang(tb testing.TB, dir string, args ...string) {
	tb.Helper()
	clang, err := exec.LookPath("clang")
	if err != nil {
		Missing(tb, "no clang: "+clangPackages)
	}
	cmd := exec.Command(clang, args...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		if strings.Contains(string(b), "wasi") && (strings.Contains(string(b), "not found") || strings.Contains(string(b), "No such file")) {
			Missing(tb, fmt.Sprintf("no wasi-libc for clang (%s): %s", strings.TrimSpace(string(b)), clangPackages))
		}
		tb.Fatalf("testwasm: clang %s: %v\n%s", strings.Join(args, " "), err, b)
	}
}

// compiled returns the module a compiler writes for key, built once per
// test process into the shared temporary folder (never the tree) by
// compile(root, out), which fails or skips tb itself.
func compiled(tb testing.TB, key, name string, compile func(root, out string)) string {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[key]; ok {
		return p
	}
	root := Root(tb)
	dir := filepath.Join(os.TempDir(), "wasgi-testwasm")
	os.MkdirAll(dir, 0o755)
	sum := sha256.Sum256([]byte(root + "\x00" + key))
	out := filepath.Join(dir, name+"-"+hex.EncodeToString(sum[:6])+".wasm")
	compile(root, out)
	built[key] = out
	return out
}

// BuildRust compiles a Rust source file (relative to the module root)
// with rustc for wasm32-wasi, as a reactor (a cdylib whose #[export_name]
// functions are the exports) or a command. Only Debian's rustc and
// libstd-rust-dev-wasm32 are needed: no cargo, no crates. It skips the
// test when they are missing, or fails it where they are required
// (Missing; .ci/run installs them).
func BuildRust(tb testing.TB, src string, reactor bool) string {
	tb.Helper()
	rustc, target := findRust()
	if rustc == "" {
		Missing(tb, "no rustc with a wasm32-wasi standard library: apt-get install rustc libstd-rust-dev-wasm32 (or run "+setup.Command+")")
	}
	return compiled(tb, fmt.Sprint("rust:", src, reactor), strings.TrimSuffix(filepath.Base(src), ".rs")+"-rs", func(root, out string) {
		args := []string{"--target", target, "-O", "-C", "strip=symbols", "-o", out, filepath.Join(root, src)}
		if reactor {
			args = append(args, "--crate-type", "cdylib")
		}
		cmd := exec.Command(rustc, args...)
		cmd.Dir = filepath.Dir(out) // rustc writes nothing else, but never into the tree
		if b, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("testwasm: rustc %s: %v\n%s", src, err, b)
		}
	})
}

// findRust returns the first rustc (on PATH, then Debian's) that has a
// standard library for WASI preview 1, and that target's name: Debian's
// rustc 1.63 calls it wasm32-wasi, newer ones (rustup's) wasm32-wasip1.
func findRust() (rustc, target string) {
	var candidates []string
	if p, err := exec.LookPath("rustc"); err == nil {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "/usr/bin/rustc")
	for _, c := range candidates {
		out, err := exec.Command(c, "--print", "sysroot").Output()
		if err != nil {
			continue
		}
		sysroot := strings.TrimSpace(string(out))
		for _, t := range []string{"wasm32-wasip1", "wasm32-wasi"} {
			if fi, err := os.Stat(filepath.Join(sysroot, "lib", "rustlib", t, "lib")); err == nil && fi.IsDir() {
				return c, t
			}
		}
	}
	return "", ""
}

// CacheDir returns a wazero compilation cache folder shared by test runs,
// so that only the first run pays for compiling each module.
func CacheDir(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(os.TempDir(), "wasgi-test-cache")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}
