package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// versionLine describes the binary from its build information: the module
// version (a tag when installed with `go install …@v1.2.3`, "(devel)" from
// a checkout), the commit, its time and whether the tree had uncommitted
// changes, and the Go version that built it.
func versionLine(info *debug.BuildInfo, ok bool) string {
	if !ok {
		return "loupe (no build information)"
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	var parts []string
	if rev := settings["vcs.revision"]; rev != "" {
		if settings["vcs.modified"] == "true" {
			rev += " (modified)"
		}
		parts = append(parts, "commit "+rev)
	}
	if t := settings["vcs.time"]; t != "" {
		parts = append(parts, "committed "+t)
	}
	parts = append(parts, info.GoVersion)
	if os, arch := settings["GOOS"], settings["GOARCH"]; os != "" && arch != "" {
		parts = append(parts, os+"/"+arch)
	}
	return fmt.Sprintf("loupe %s (%s)", version, strings.Join(parts, ", "))
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "loupe version: unexpected arguments %q\n", args)
		return 2
	}
	fmt.Fprintln(stdout, versionLine(debug.ReadBuildInfo()))
	return 0
}
