//go:build !linux

package main

import "syscall"

// childProcAttr: no parent-death signal outside Linux; the launcher stops
// its services itself.
func childProcAttr() *syscall.SysProcAttr { return nil }

// stopWithParent: outside Linux, the launcher stops only on a signal or at
// the end of --duration.
func stopWithParent() error { return nil }
