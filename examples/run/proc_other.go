//go:build !linux

package main

import (
	"os/exec"
	"syscall"
)

// childAttr puts wasgi in its own process group.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// startChild starts cmd.
func startChild(cmd *exec.Cmd) error { return cmd.Start() }

// dieWithParent does nothing: only Linux has a parent-death signal.
func dieWithParent() {}
