package sandbox

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// nice is the calling thread's nice value.
func nice(t *testing.T) int {
	t.Helper()
	// getpriority's raw result is 20 - nice (the C library turns it back).
	r, _, errno := syscall.Syscall(syscall.SYS_GETPRIORITY, syscall.PRIO_PROCESS, uintptr(syscall.Gettid()), 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	return 20 - int(r)
}

// TestThrowawayThread: without CAP_SYS_NICE, instance starts run at nice
// 10 on a thread of their own that dies with them; the caller's thread
// keeps its priority, and a panic reaches the caller.
func TestThrowawayThread(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := nice(t)
	got := -100
	deprioritized(false, func() { got = nice(t) })
	if got != longCallNice {
		t.Fatalf("the start ran at nice %d, want %d", got, longCallNice)
	}
	if after := nice(t); after != before {
		t.Fatalf("the caller's thread went from nice %d to %d", before, after)
	}
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want the call's panic", r)
		}
	}()
	deprioritized(false, func() { panic("boom") })
	t.Fatal("no panic")
}

// TestNicer: an instance's one timer renices each of its calls that runs
// past longCall, gives the thread its priority back when the call
// returns, and a fire left over from an earlier call does not renice a
// call that has just begun.
func TestNicer(t *testing.T) {
	if !canRenice() {
		t.Skip("needs CAP_SYS_NICE to lower a thread's nice value again")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := nice(t)
	n := newNicer(true)
	defer n.stop()
	for range 2 {
		got := -100
		n.run(func() {
			deadline := time.Now().Add(10 * time.Second)
			for nice(t) != longCallNice && time.Now().Before(deadline) {
				runtime.Gosched() // a long call, until the timer renices it
			}
			got = nice(t)
		})
		if got != longCallNice {
			t.Fatalf("a long call ran at nice %d, want %d", got, longCallNice)
		}
		if after := nice(t); after != before {
			t.Fatalf("after the call: nice %d, want %d", after, before)
		}
	}
	n.run(func() {
		n.fire() // as the timer of the call before would, late
		if got := nice(t); got != before {
			t.Errorf("a late fire reniced a short call to %d", got)
		}
	})
}
