//go:build unix

package testservers

import (
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// runAs makes cmd run as u (we are root).
func runAs(cmd *exec.Cmd, u *user.User) {
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func terminate(pid int) { _ = syscall.Kill(pid, syscall.SIGTERM) }
