package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// otelcolVersion is the release of the Collector the manifest, the compose
// file and the Kubernetes manifests pin, as scripts/install-deploy-tools
// names its build.
const otelcolVersion = "v0.161.0"

// missingTool fails the test under CI=true, where scripts/install-deploy-tools
// has run and a missing tool is a broken install, and skips it elsewhere.
func missingTool(t *testing.T, format string, args ...any) {
	t.Helper()
	args = append(args, "run scripts/install-deploy-tools")
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (CI=true: the tool is required; %s)", args...)
	}
	t.Skipf(format+" (%s)", args...)
}

// lookPath finds a tool on PATH, failing or skipping as missingTool does.
func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missingTool(t, "%s is not installed", name)
	}
	return p
}

// toolsDir is where scripts/install-deploy-tools caches the Collector it
// builds: $LOUPE_DEPLOY_TOOLS_DIR, else the user cache directory.
func toolsDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("LOUPE_DEPLOY_TOOLS_DIR"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		missingTool(t, "no user cache directory for the Collector build: %v", err)
	}
	return filepath.Join(d, "loupe", "deploy")
}

// otelcolBinary is the Collector built from collector/builder-config.yaml as
// it is now: a build from an older manifest does not count.
func otelcolBinary(t *testing.T) string {
	t.Helper()
	manifest, err := os.ReadFile("collector/builder-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(manifest)
	bin := filepath.Join(toolsDir(t), "otelcol-deploy-"+otelcolVersion+"-"+hex.EncodeToString(sum[:])[:12])
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
		missingTool(t, "the Collector built from the current collector/builder-config.yaml is not at %s", bin)
	}
	return bin
}

// run runs a tool with a timeout and returns its combined output and its
// error (an *exec.ExitError when it ran and failed).
func run(t *testing.T, timeout time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v: timed out after %s\n%s", name, args, timeout, out.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return out.String(), err
}

// readYAML decodes a YAML file into v (through JSON, so json tags and
// map[string]any apply).
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// yamlUnmarshalString decodes YAML text into v.
func yamlUnmarshalString(s string, v any) error { return yaml.Unmarshal([]byte(s), v) }
