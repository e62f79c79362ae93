package main

import "syscall"

// childAttr makes a child get SIGTERM when the harness dies, so no mock,
// router or proxy outlives an interrupted run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
