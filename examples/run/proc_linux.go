package main

import (
	"os"
	"os/exec"
	"runtime"
	"syscall"
)

// childAttr puts wasgi in its own process group and has the kernel send
// it SIGTERM when this process dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// startChild starts cmd from a thread locked for the rest of this process's
// life: Pdeathsig fires when the thread that forked the child exits, and
// the Go runtime may end an unlocked thread.
func startChild(cmd *exec.Cmd) error {
	runtime.LockOSThread() // never unlocked: the goroutine is main's
	return cmd.Start()
}

// dieWithParent asks for SIGTERM when this process's parent dies: `go run`
// dies of SIGTERM without passing it on to the program it runs.
func dieWithParent() {
	ppid := os.Getppid()
	syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0)
	if os.Getppid() != ppid { // the parent died before the prctl
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}
}
