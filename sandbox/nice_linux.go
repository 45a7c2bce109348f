package sandbox

import (
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Long guest calls are deprioritised. wazero's machine code cannot be
// preempted by Go's scheduler, so a guest spinning until its deadline owns
// an OS thread for the whole time; on a machine with few cores, two of
// them starve every other site's requests. A call still running after
// longCall has its thread's nice value raised to longCallNice, so the
// kernel gives short requests of other sites the CPU first; the thread
// gets its priority back when the call returns.
const (
	longCall     = 10 * time.Millisecond
	longCallNice = 10
)

// canRenice reports whether this process may lower a thread's nice value
// back to 0 (root, or CAP_SYS_NICE). Without that, a reniced thread could
// not be restored, so nothing is reniced. New asks once per Runtime.
func canRenice() bool {
	ok := make(chan bool)
	go func() {
		// Locked and never unlocked: the thread ends with this goroutine,
		// whatever its nice value became.
		runtime.LockOSThread()
		tid := syscall.Gettid()
		ok <- syscall.Setpriority(syscall.PRIO_PROCESS, tid, 1) == nil &&
			syscall.Setpriority(syscall.PRIO_PROCESS, tid, 0) == nil
	}()
	return <-ok
}

// deprioritized runs call on the current thread at nice longCallNice:
// for instance creation (~10 ms of CPU for a Go guest), which a site that
// traps on purpose can make every request pay, at everyone else's cost.
// Without renice (no CAP_SYS_NICE: a thread's nice cannot be lowered back)
// it runs call on a thread of its own that raises its nice, which any
// thread may, and is then discarded with its goroutine, never reused.
func deprioritized(renice bool, call func()) {
	if !renice {
		onThrowawayThread(call)
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := syscall.Gettid()
	if syscall.Setpriority(syscall.PRIO_PROCESS, tid, longCallNice) != nil {
		call()
		return
	}
	defer syscall.Setpriority(syscall.PRIO_PROCESS, tid, 0)
	call()
}

// deprioritizeIfLong runs call on the current thread and lowers the
// thread's priority while the call runs longer than longCall.
func deprioritizeIfLong(renice bool, call func()) {
	if !renice {
		call()
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := syscall.Gettid()
	var mu sync.Mutex
	done, reniced := false, false
	t := time.AfterFunc(longCall, func() {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			reniced = syscall.Setpriority(syscall.PRIO_PROCESS, tid, longCallNice) == nil
		}
	})
	call()
	t.Stop()
	mu.Lock()
	done = true
	if reniced {
		syscall.Setpriority(syscall.PRIO_PROCESS, tid, 0)
	}
	mu.Unlock()
}

// nicer is deprioritizeIfLong for the calls of one instance, one at a
// time, with one timer for all of them: a request then resets a timer
// rather than making one (a third of the cost). nil when threads are not
// reniced.
type nicer struct {
	t  *time.Timer
	mu sync.Mutex
	// the running call's thread and start; running is false between calls
	tid     int
	start   time.Time
	running bool
	reniced bool
}

func newNicer(renice bool) *nicer {
	if !renice {
		return nil
	}
	n := &nicer{}
	n.t = time.AfterFunc(time.Hour, n.fire)
	n.t.Stop()
	return n
}

// run runs call on the current thread and lowers the thread's priority
// while the call runs longer than longCall.
func (n *nicer) run(call func()) {
	if n == nil {
		call()
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := syscall.Gettid()
	n.mu.Lock()
	n.tid, n.start, n.running, n.reniced = tid, time.Now(), true, false
	n.mu.Unlock()
	n.t.Reset(longCall)
	call()
	n.t.Stop()
	n.mu.Lock()
	n.running = false
	if n.reniced {
		syscall.Setpriority(syscall.PRIO_PROCESS, tid, 0)
	}
	n.mu.Unlock()
}

// fire renices the running call's thread. The timer of an earlier call
// may fire late, during the next one: only a call that has run longCall
// is reniced.
func (n *nicer) fire() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.running && !n.reniced && time.Since(n.start) >= longCall {
		n.reniced = syscall.Setpriority(syscall.PRIO_PROCESS, n.tid, longCallNice) == nil
	}
}

// stop releases the timer, for an instance being closed.
func (n *nicer) stop() {
	if n != nil {
		n.t.Stop()
	}
}

// onThrowawayThread runs call at nice longCallNice on a new OS thread
// that ends with it: a goroutine that exits locked to its thread takes
// the thread with it, so no goroutine ever runs on it at that priority
// again. A panic in call is raised again in the caller. Starting a
// thread costs tens of microseconds, against the milliseconds of an
// instance's start.
func onThrowawayThread(call func()) {
	var p any
	panicked := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
		syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), longCallNice)
		defer func() {
			if r := recover(); r != nil {
				p, panicked = r, true
			}
		}()
		call()
	}()
	<-done
	if panicked {
		panic(p)
	}
}
