package telemetry_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-dev/loupe/telemetry"
)

// heavy lists what a user who imports only the facade must not compile nor
// download: database and Redis drivers, the backend's storage, query engine
// and UI, and Loupe's own instrumentation packages.
var heavy = []string{
	"github.com/jackc/",
	"github.com/lib/pq",
	"github.com/redis/",
	"github.com/XSAM/otelsql",
	"github.com/exaring/otelpgx",
	"github.com/cockroachdb/pebble",
	"go.etcd.io/bbolt",
	"modernc.org/sqlite",
	"github.com/prometheus/prometheus",
	"github.com/loupe-dev/loupe/backend",
	"github.com/loupe-dev/loupe/instrumentation",
	"github.com/loupe-dev/loupe/genai",
	"github.com/loupe-dev/loupe/cmd",
	"go.uber.org/zap",
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

func goTool(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestResolverImportsNoSDK keeps the resolver independent of what any
// OpenTelemetry or gRPC package reads from the environment.
func TestResolverImportsNoSDK(t *testing.T) {
	// internal/otlpconf (the headers format and the TLS loader it shares
	// with backend/forward and cmd/loupe) is itself standard library only:
	// go list -deps would list whatever it imported here.
	deps := goTool(t, repoRoot(t), nil, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./telemetry/internal/conf")
	allowed := []string{"github.com/loupe-dev/loupe/internal/otlpconf", "github.com/loupe-dev/loupe/telemetry/internal/conf"}
	if pkgs := strings.Fields(deps); !slices.Equal(pkgs, allowed) {
		t.Errorf("the resolver depends on more than the standard library and internal/otlpconf: %q", pkgs)
	}
}

func TestFacadeCompilesNothingHeavy(t *testing.T) {
	deps := goTool(t, repoRoot(t), nil, "list", "-deps", "./telemetry", "./telemetry/telemetrytest")
	for _, pkg := range strings.Fields(deps) {
		for _, h := range heavy {
			if strings.HasPrefix(pkg, h) {
				t.Errorf("the facade depends on %s", pkg)
			}
		}
	}
}

// facadeOnlyModule writes a scratch module at the given go line whose
// program imports only the facade, required through a replace directive to
// this checkout, and returns its directory.
func facadeOnlyModule(t *testing.T, goLine string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"go.mod": "module scratch\n\ngo " + goLine + "\n\nrequire github.com/loupe-dev/loupe v0.0.0\n\nreplace github.com/loupe-dev/loupe => " + repoRoot(t) + "\n",
		"main.go": `package main

import (
	"context"

	"github.com/loupe-dev/loupe/telemetry"
)

func main() {
	tel, err := telemetry.Setup(context.Background())
	if err == nil {
		_ = tel.Shutdown(context.Background())
	}
}
`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestFacadeGoSumIsLight builds a scratch module that imports only the
// facade (through a replace directive to this checkout) and checks that its go.sum holds no module archive (an h1: line
// without /go.mod) of a heavy dependency: with module graph pruning such
// modules contribute at most their go.mod hash.
func TestFacadeGoSumIsLight(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a scratch module")
	}
	dir := facadeOnlyModule(t, "1.25.0")
	// Offline: everything needed is in the module cache already, because
	// this repository's own build downloaded it.
	// `go build -mod=mod` records in go.sum what building the program needs,
	// as `go get` of the facade followed by a build would.
	env := []string{"GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off"}
	goTool(t, dir, env, "build", "-o", os.DevNull, ".")
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	var archives int
	for _, line := range strings.Split(string(sum), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || strings.HasSuffix(f[1], "/go.mod") {
			continue
		}
		archives++
		for _, h := range heavy {
			if strings.HasPrefix(f[0], strings.TrimSuffix(h, "/")) {
				t.Errorf("go.sum of a facade-only module holds the archive of %s %s", f[0], f[1])
			}
		}
	}
	if archives == 0 {
		t.Fatalf("go.sum has no module archives at all; the check would prove nothing:\n%s", sum)
	}
}

// TestFacadeKeepsUsersGoLine builds a scratch module at OpenTelemetry's
// minimum Go version that requires only the facade (a replace directive to
// this checkout) and checks that `go mod tidy` leaves its go line alone: the
// facade's minimum is OpenTelemetry's, not that of a module only the backend
// uses (Prometheus v0.316.0 says go 1.26.7 and bumped such a module).
func TestFacadeKeepsUsersGoLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a scratch module")
	}
	root := repoRoot(t)
	otelGo := strings.TrimSpace(goTool(t, root, nil, "list", "-m", "-f", "{{.GoVersion}}", "go.opentelemetry.io/otel"))
	if otelGo == "" {
		t.Fatal("go.opentelemetry.io/otel has no go line")
	}
	dir := facadeOnlyModule(t, otelGo)
	// The module cache holds what this repository's build downloaded; the
	// environment's GOPROXY serves anything else tidy looks at. GOTOOLCHAIN=local:
	// a go line above this toolchain fails instead of switching toolchains.
	env := []string{"GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOWORK=off"}
	goTool(t, dir, env, "mod", "tidy")
	got, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "\ngo " + otelGo + "\n"; !strings.Contains(string(got), want) {
		t.Errorf("go mod tidy changed the go line of a facade-only module at go %s (OpenTelemetry's minimum):\n%s", otelGo, got)
	}
	if strings.Contains(string(got), "\ntoolchain ") {
		t.Errorf("go mod tidy added a toolchain line to a facade-only module:\n%s", got)
	}
}

var semconvImport = regexp.MustCompile(`"(go\.opentelemetry\.io/otel/semconv/v[0-9][0-9.]*[^"]*)"`)

// TestOneSemanticConventionsVersion keeps every package of the repository
// on the semantic-conventions version the facade pins (SchemaURL).
func TestOneSemanticConventionsVersion(t *testing.T) {
	want := "go.opentelemetry.io/otel/semconv/" + strings.TrimPrefix(telemetry.SchemaURL, "https://opentelemetry.io/schemas/")
	want = strings.Replace(want, "semconv/1.", "semconv/v1.", 1)
	root := repoRoot(t)
	var checked int
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range semconvImport.FindAllStringSubmatch(string(src), -1) {
			checked++
			if imp := m[1]; imp != want && !strings.HasPrefix(imp, want+"/") {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s imports %s; the project pins %s", rel, imp, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no semconv import found: the check would prove nothing")
	}
}
