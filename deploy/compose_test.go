package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/examples/demo"
)

const composeDir = "compose"

// composeFile is the part of a compose file the checks read.
type composeFile struct {
	Services map[string]composeService `json:"services"`
	Volumes  map[string]any            `json:"volumes"`
}

type composeService struct {
	Image       string            `json:"image"`
	Build       any               `json:"build"`
	Profiles    []string          `json:"profiles"`
	Command     []string          `json:"command"`
	Entrypoint  []string          `json:"entrypoint"`
	Environment map[string]string `json:"environment"`
	Volumes     []string          `json:"volumes"`
	Ports       []string          `json:"ports"`
	DependsOn   map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on"`
	Healthcheck *struct {
		Test []string `json:"test"`
	} `json:"healthcheck"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	readYAML(t, filepath.Join(composeDir, "docker-compose.yml"), &c)
	if len(c.Services) == 0 {
		t.Fatal("no services in the compose file")
	}
	return c
}

// TestComposeConfig validates the file with docker-compose itself, on both
// paths: the light default and the full profile with full.env.
func TestComposeConfig(t *testing.T) {
	dc := lookPath(t, "docker-compose")
	for name, args := range map[string][]string{
		"light": {"-f", "docker-compose.yml", "config", "-q"},
		"full":  {"--env-file", "full.env", "--profile", "full", "-f", "docker-compose.yml", "config", "-q"},
	} {
		t.Run(name, func(t *testing.T) {
			if out, err := run(t, time.Minute, composeDir, nil, dc, args...); err != nil {
				t.Fatalf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
	// And it is no rubber stamp: a misspelt key is refused.
	bad := filepath.Join(t.TempDir(), "docker-compose.yml")
	if err := os.WriteFile(bad, []byte("services:\n  x:\n    image: redis:7.2.5-alpine\n    helthcheck: {test: [CMD, true]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, time.Minute, "", nil, dc, "-f", bad, "config", "-q"); err == nil {
		t.Fatalf("docker-compose config accepted a misspelt key:\n%s", out)
	}
}

// TestComposeReviewed makes the checks a reviewer of the compose file would.
func TestComposeReviewed(t *testing.T) {
	c := loadCompose(t)
	pinned := regexp.MustCompile(`^[\w./-]+:v?\d+\.\d+(\.\d+)?(-[\w.-]+)?(@sha256:[0-9a-f]{64})?$`)
	var light []string
	for name, s := range c.Services {
		if s.Image != "loupe:dev" && !pinned.MatchString(s.Image) {
			t.Errorf("%s: image %q is not pinned to a version", name, s.Image)
		}
		if s.Image == "loupe:dev" && s.Build == nil {
			t.Errorf("%s: the loupe image must be built from the repository's Dockerfile", name)
		}
		if len(s.Profiles) == 0 {
			light = append(light, name)
		} else if !slices.Equal(s.Profiles, []string{"full"}) {
			t.Errorf("%s: profiles %v, want none (light path) or [full]", name, s.Profiles)
		}
		// The traffic client is the one container without a health check:
		// it serves nothing.
		if s.Healthcheck == nil && name != "traffic" {
			t.Errorf("%s has no health check", name)
		}
		for dep, d := range s.DependsOn {
			ds, ok := c.Services[dep]
			if !ok {
				t.Errorf("%s depends on %s, which is not a service", name, dep)
				continue
			}
			if d.Condition == "service_healthy" && ds.Healthcheck == nil {
				t.Errorf("%s waits for %s to be healthy, which has no health check", name, dep)
			}
			if len(s.Profiles) == 0 && len(ds.Profiles) > 0 {
				t.Errorf("%s (light path) depends on %s, which only runs in the full profile", name, dep)
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %s beyond loopback", name, p)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join(composeDir, src)); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s mounts volume %s, which is not declared", name, src)
			}
		}
		if s.Healthcheck != nil && len(s.Healthcheck.Test) > 1 && strings.HasPrefix(s.Healthcheck.Test[1], "/hc/") {
			if !slices.Contains(s.Volumes, "healthcheck-bin:/hc:ro") {
				t.Errorf("%s's health check runs /hc/healthcheck without the healthcheck-bin volume", name)
			}
			if d, ok := s.DependsOn["loupe"]; !ok || d.Condition == "" {
				t.Errorf("%s's health check needs the loupe container (which fills healthcheck-bin) started first", name)
			}
		}
	}
	sort.Strings(light)
	wantLight := append([]string{"loupe", "redis", "traffic"}, demo.Names()...)
	sort.Strings(wantLight)
	if !slices.Equal(light, wantLight) {
		t.Errorf("the light path runs %v, want loupe serve, the services and what they need: %v", light, wantLight)
	}
	for _, want := range []string{"otel-collector", "jaeger", "tempo", "loki", "prometheus", "grafana"} {
		if s, ok := c.Services[want]; !ok || !slices.Contains(s.Profiles, "full") {
			t.Errorf("the full profile has no %s", want)
		}
	}

	// The Collector is the release the manifest builds, with the tested file.
	_, m := loadCollector(t)
	col := c.Services["otel-collector"]
	if want := "otel/opentelemetry-collector-contrib:" + m.Dist.Version; col.Image != want {
		t.Errorf("otel-collector image %s, want %s (the manifest's release)", col.Image, want)
	}
	if !slices.Contains(col.Volumes, "../collector/config.yaml:/etc/otelcol-contrib/config.yaml:ro") {
		t.Errorf("otel-collector does not run deploy/collector/config.yaml: volumes %v", col.Volumes)
	}
	if !slices.Contains(c.Services["prometheus"].Command, "--enable-feature=exemplar-storage") {
		t.Error("prometheus runs without exemplar storage")
	}
	if !slices.Contains(c.Services["loupe"].Command, "--forward=${LOUPE_FORWARD:-}") {
		t.Error("loupe serve does not forward to $LOUPE_FORWARD")
	}
	env, err := os.ReadFile(filepath.Join(composeDir, "full.env"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(env), "LOUPE_FORWARD=otel-collector:4317") {
		t.Error("full.env does not forward loupe serve to the Collector's OTLP/gRPC port")
	}
}

// TestComposeDemoServices checks each demo service against what `loupe demo
// service` says it reads: its peers' addresses and its listen address are
// set (the defaults are loopback, unreachable between containers), and it
// exports OTLP to loupe serve.
func TestComposeDemoServices(t *testing.T) {
	c := loadCompose(t)
	for _, svc := range demo.Services {
		s, ok := c.Services[svc.Name]
		if !ok {
			t.Errorf("no %s service", svc.Name)
			continue
		}
		if !slices.Equal(s.Command, []string{"demo", "service", svc.Name}) {
			t.Errorf("%s runs %v, want demo service %s", svc.Name, s.Command, svc.Name)
		}
		for _, v := range svc.Vars {
			got, set := s.Environment[v.Name]
			if strings.Contains(v.Default, "127.0.0.1") && !set {
				t.Errorf("%s: %s is not set, and its default %s is unreachable from another container", svc.Name, v.Name, v.Default)
			}
			if set && strings.Contains(got, "127.0.0.1") {
				t.Errorf("%s: %s=%s is loopback", svc.Name, v.Name, got)
			}
		}
		if s.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://loupe:4318" {
			t.Errorf("%s exports to %q, want loupe serve", svc.Name, s.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"])
		}
		if s.Healthcheck == nil || !strings.HasSuffix(s.Healthcheck.Test[len(s.Healthcheck.Test)-1], strings.TrimPrefix(s.Environment["LISTEN_ADDR"], ":")+"/health") {
			t.Errorf("%s's health check does not ask its own /health", svc.Name)
		}
	}
}
