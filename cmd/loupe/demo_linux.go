package main

import "syscall"

// childProcAttr puts a service in a process group of its own, so that the
// terminal's Ctrl-C reaches only the launcher, which stops the services in
// order; and has the kernel kill it should the launcher die without doing so.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
