//go:build !linux

package main

import "syscall"

// childProcAttr: no parent-death signal outside Linux; the launcher stops
// its services itself.
func childProcAttr() *syscall.SysProcAttr { return nil }
