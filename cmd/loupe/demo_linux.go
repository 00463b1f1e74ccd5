package main

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// childProcAttr puts a service in a process group of its own, so that the
// terminal's Ctrl-C reaches only the launcher, which stops the services in
// order; and has the kernel kill it should the launcher die without doing so.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// stopWithParent has the kernel send the launcher SIGTERM when the process
// that started it ends, which stops the platform as SIGTERM does. `go run`
// ends on SIGTERM without passing it on: without this, a supervisor that
// stops `go run ./cmd/loupe demo` would leave the launcher and its five
// services running.
func stopWithParent() error {
	parent := os.Getppid()
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl(PR_SET_PDEATHSIG)", err)
	}
	if os.Getppid() != parent { // it ended before the request: no signal comes
		return syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}
	return nil
}
