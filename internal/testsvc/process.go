package testsvc

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// How a private server lives and dies.
//
// A server is a child of the test process, started with Pdeathsig: the
// kernel signals it when the thread that forked it exits. Go ends threads
// at times of its own choosing (a goroutine that exits while locked to its
// thread takes the thread with it), so every server is forked from one
// thread that a goroutine locks and never lets go of: that thread lives
// exactly as long as the process. A test binary that exits, panics, times
// out or is killed takes its servers with it, and no server outlives it to
// hold a port or to run as nobody unwatched.
//
// The data folders, named wasgi-testsvc-PID-..., cannot be removed by a
// process that is killed; the first server started by a later test process
// removes the folders whose PID is no longer running.

const (
	dirPrefix    = "wasgi-testsvc-"
	startTimeout = 60 * time.Second
	// startTries bounds the retries of a start that lost its free port to
	// another process between freePort and the server's bind.
	startTries = 3
)

var (
	forkOnce sync.Once
	forkReq  chan func()
	sweepOne sync.Once
)

// onForkThread runs f on the thread that all servers are forked from.
func onForkThread(f func()) {
	forkOnce.Do(func() {
		forkReq = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: see above
			for f := range forkReq {
				f()
			}
		}()
	})
	done := make(chan struct{})
	forkReq <- func() { f(); close(done) }
	<-done
}

// sandbox is a data folder and the user that the server runs as.
type sandbox struct {
	dir  string
	cred *syscall.Credential // nil: the test's own user
}

// newSandbox makes a data folder for one server, owned by the user it
// will run as.
func newSandbox(name string) (*sandbox, error) {
	sweepOne.Do(sweep)
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-%s-", dirPrefix, os.Getpid(), name))
	if err != nil {
		return nil, err
	}
	sb := &sandbox{dir: dir}
	if os.Geteuid() != 0 {
		return sb, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("running as root, the servers run as nobody: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	sb.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o001 == 0 {
			return nil, fmt.Errorf("%s is not searchable by nobody, who runs the servers when the tests run as root: set TMPDIR=/tmp", p)
		}
		if p == filepath.Dir(p) {
			break
		}
	}
	return sb, sb.chown()
}

// chown gives everything in the folder to the server's user.
func (sb *sandbox) chown() error {
	if sb.cred == nil {
		return nil
	}
	return filepath.WalkDir(sb.dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(sb.cred.Uid), int(sb.cred.Gid))
	})
}

// path returns the name of elem in the folder.
func (sb *sandbox) path(elem ...string) string {
	return filepath.Join(append([]string{sb.dir}, elem...)...)
}

// writeFile writes a file into the folder, readable only by the server's
// user.
func (sb *sandbox) writeFile(name, data string) error {
	p := sb.path(name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		return err
	}
	if sb.cred != nil {
		return os.Chown(p, int(sb.cred.Uid), int(sb.cred.Gid))
	}
	return nil
}

// command returns a command run as the server's user, with a small fixed
// environment, in the folder.
func (sb *sandbox) command(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = sb.dir
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + sb.dir, "TMPDIR=" + sb.dir, "LC_ALL=C", "TZ=UTC",
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: sb.cred}
	return cmd
}

// run runs a setup command (initdb, mariadb-install-db) to its end.
func (sb *sandbox) run(bin string, args ...string) error {
	cmd := sb.command(bin, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", filepath.Base(bin), err, tail(out))
	}
	return nil
}

// process is a running server.
type process struct {
	cmd  *exec.Cmd
	log  string        // its standard output and error
	done chan struct{} // closed when it has exited
	err  error         // how it exited, once done is closed
}

// startServer starts a server on a free port of 127.0.0.1 and waits until
// ready reports it ready. args returns the server's command line for a
// port; sig is the signal it gets when the test process ends. A server that
// exits because its port was taken meanwhile is started again on another.
func (sb *sandbox) startServer(bin string, args func(port int) []string, sig syscall.Signal, ready func(addr string) error) (string, error) {
	for try := 1; ; try++ {
		port, err := freePort()
		if err != nil {
			return "", err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		p, err := sb.start(bin, args(port), sig)
		if err != nil {
			return "", err
		}
		err = p.wait(addr, ready)
		if err == nil {
			return addr, nil
		}
		if !p.exited() || !bytes.Contains(p.output(), []byte("Address already in use")) || try == startTries {
			return "", err
		}
	}
}

func (sb *sandbox) start(bin string, args []string, sig syscall.Signal) (*process, error) {
	log, err := os.CreateTemp(sb.dir, filepath.Base(bin)+"-*.log")
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := sb.command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log // a file, never the test's own output, which go test waits on
	cmd.SysProcAttr.Pdeathsig = sig
	onForkThread(func() { err = cmd.Start() })
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &process{cmd: cmd, log: log.Name(), done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// wait polls ready until it succeeds, the server exits, or startTimeout
// passes; the error then carries the end of the server's log.
func (p *process) wait(addr string, ready func(addr string) error) error {
	deadline := time.Now().Add(startTimeout)
	for {
		err := ready(addr)
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %v\n%s", filepath.Base(p.cmd.Path), p.err, tail(p.output()))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.cmd.Process.Kill()
			<-p.done
			return fmt.Errorf("%s not ready on %s after %v: %v\n%s", filepath.Base(p.cmd.Path), addr, startTimeout, err, tail(p.output()))
		}
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) output() []byte {
	b, _ := os.ReadFile(p.log)
	return b
}

// freePort returns a TCP port of 127.0.0.1 that nothing listened on a
// moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last lines of a server's output, for an error.
func tail(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// sweep removes the data folders of test processes that have ended.
func sweep() {
	tmp := os.TempDir()
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), dirPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(filepath.Join(tmp, e.Name()))
		}
	}
}

// findBin returns the path of the first of names found on PATH or in the
// sbin folders, which a user's PATH may lack.
func findBin(names ...string) (string, bool) {
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
		for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
				return p, true
			}
		}
	}
	return "", false
}
