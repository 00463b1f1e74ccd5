package deploy

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// dockerfile is the repository's Dockerfile, from deploy/.
const dockerfile = "../Dockerfile"

// dockerInstructions returns the Dockerfile's instructions, continuation
// lines joined, comments dropped.
func dockerInstructions(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

// TestDockerfileReviewed: multi-stage, pinned bases, a minimal final stage
// that runs as a non-root user.
func TestDockerfileReviewed(t *testing.T) {
	var froms []string
	user := ""
	for _, in := range dockerInstructions(t) {
		f := strings.Fields(in)
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, f[1])
			user = ""
		case "USER":
			user = f[1]
		}
	}
	if len(froms) < 2 {
		t.Fatalf("FROM %v: want a build stage and a runtime stage", froms)
	}
	for _, img := range froms[:len(froms)-1] {
		if !regexp.MustCompile(`^[\w./-]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?$`).MatchString(img) {
			t.Errorf("build image %q is not pinned to a full version", img)
		}
	}
	if final := froms[len(froms)-1]; final != "scratch" && !strings.HasPrefix(final, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %s: want scratch or distroless static", final)
	}
	uid, _, _ := strings.Cut(user, ":")
	if uid == "" || uid == "0" || uid == "root" {
		t.Errorf("final stage runs as %q: want a non-root user", user)
	}
}

// TestDockerfileBuildIsStatic runs the Dockerfile's build command with its
// environment, as `go build` here, and checks that every binary it makes
// is static: no ELF interpreter, no shared library needed.
func TestDockerfileBuildIsStatic(t *testing.T) {
	// The build stage's environment only: the runtime stage's HOME would
	// move this machine's module cache.
	var env []string
	var build []string
	for _, in := range dockerInstructions(t) {
		f := strings.Fields(in)
		switch {
		case strings.EqualFold(f[0], "FROM"):
			if build != nil {
				break
			}
			env = nil
		case strings.EqualFold(f[0], "ENV") && build == nil:
			for _, kv := range f[1:] {
				if strings.Contains(kv, "=") {
					env = append(env, kv)
				}
			}
		case strings.EqualFold(f[0], "RUN") && len(f) > 2 && f[1] == "go" && f[2] == "build":
			build = shellFields(strings.TrimSpace(in[len(f[0]):]))
		}
	}
	if build == nil {
		t.Fatal("the Dockerfile has no RUN go build")
	}
	if !strings.Contains(strings.Join(env, " "), "CGO_ENABLED=0") {
		t.Errorf("the build's environment %v does not set CGO_ENABLED=0", env)
	}
	// The image is Linux's, whatever the machine running the test.
	env = append(env, "GOOS=linux")
	out := t.TempDir()
	for i := range build {
		if i > 0 && build[i-1] == "-o" {
			build[i] = out + string(filepath.Separator)
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	if o, err := run(t, 5*time.Minute, "..", env, goBin, build[1:]...); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(build, " "), err, o)
	}
	bins, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(bins) != 3 {
		t.Fatalf("the build made %v, want loupe, healthcheck and traffic", bins)
	}
	for _, bin := range bins {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s asks for an ELF interpreter: not static", filepath.Base(bin))
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("%s needs shared libraries %v", filepath.Base(bin), libs)
		}
		f.Close()
	}
}

// shellFields splits a command line as the shell does for the Dockerfile's
// build command: on blanks, except inside single or double quotes, which
// are removed.
func shellFields(s string) []string {
	var fields []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				fields = append(fields, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		fields = append(fields, cur.String())
	}
	return fields
}
