//go:build !unix

package testservers

import (
	"os"
	"os/exec"
	"os/user"
)

// runAs is not needed where there is no root (Geteuid is -1).
func runAs(*exec.Cmd, *user.User) {}

// alive cannot probe without signals: it reports false, and Stop relies on
// redis-cli shutdown.
func alive(int) bool { return false }

func terminate(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
