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

	"sigs.k8s.io/yaml"
)

const (
	collectorConfig   = "collector/config.yaml"
	collectorManifest = "collector/builder-config.yaml"
)

// collectorKinds are the sections of a Collector configuration that define
// components, as the builder manifest and `otelcol components` name them.
var collectorKinds = []string{"receivers", "processors", "exporters", "extensions", "connectors"}

// otelcolConfig is the part of a Collector configuration the checks read.
type otelcolConfig struct {
	Receivers  map[string]map[string]any `json:"receivers"`
	Processors map[string]map[string]any `json:"processors"`
	Exporters  map[string]map[string]any `json:"exporters"`
	Extensions map[string]map[string]any `json:"extensions"`
	Connectors map[string]map[string]any `json:"connectors"`
	Service    struct {
		Extensions []string `json:"extensions"`
		Pipelines  map[string]struct {
			Receivers  []string `json:"receivers"`
			Processors []string `json:"processors"`
			Exporters  []string `json:"exporters"`
		} `json:"pipelines"`
	} `json:"service"`
}

func (c *otelcolConfig) defined(kind string) map[string]map[string]any {
	switch kind {
	case "receivers":
		return c.Receivers
	case "processors":
		return c.Processors
	case "exporters":
		return c.Exporters
	case "extensions":
		return c.Extensions
	}
	return c.Connectors
}

// used lists the component ids of each kind that the service uses.
func (c *otelcolConfig) used() map[string][]string {
	u := map[string][]string{"extensions": c.Service.Extensions}
	for _, p := range c.Service.Pipelines {
		u["receivers"] = append(u["receivers"], p.Receivers...)
		u["processors"] = append(u["processors"], p.Processors...)
		u["exporters"] = append(u["exporters"], p.Exporters...)
	}
	for k, ids := range u {
		sort.Strings(ids)
		u[k] = slices.Compact(ids)
	}
	return u
}

// componentType is the type part of a component id ("otlp_grpc/jaeger" is
// of type otlp_grpc).
func componentType(id string) string {
	typ, _, _ := strings.Cut(id, "/")
	return typ
}

// builderManifest is the part of a builder manifest the checks read.
type builderManifest struct {
	Dist struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"dist"`
	Receivers  []struct{ GoMod string } `json:"receivers"`
	Processors []struct{ GoMod string } `json:"processors"`
	Exporters  []struct{ GoMod string } `json:"exporters"`
	Extensions []struct{ GoMod string } `json:"extensions"`
	Connectors []struct{ GoMod string } `json:"connectors"`
	Providers  []struct{ GoMod string } `json:"providers"`
}

func (m *builderManifest) modules(kind string) []string {
	var list []struct{ GoMod string }
	switch kind {
	case "receivers":
		list = m.Receivers
	case "processors":
		list = m.Processors
	case "exporters":
		list = m.Exporters
	case "extensions":
		list = m.Extensions
	case "connectors":
		list = m.Connectors
	case "providers":
		list = m.Providers
	}
	mods := make([]string, len(list))
	for i, c := range list {
		mods[i] = c.GoMod
	}
	sort.Strings(mods)
	return mods
}

func loadCollector(t *testing.T) (*otelcolConfig, *builderManifest) {
	t.Helper()
	var cfg otelcolConfig
	readYAML(t, collectorConfig, &cfg)
	var m builderManifest
	readYAML(t, collectorManifest, &m)
	return &cfg, &m
}

// TestCollectorValidates runs the Collector's own validate command on the
// configuration, as deployed: no variable set, so every default applies.
func TestCollectorValidates(t *testing.T) {
	bin := otelcolBinary(t)
	out, err := run(t, time.Minute, "", nil, bin, "validate", "--config", collectorConfig)
	if err != nil {
		t.Fatalf("otelcol validate --config %s: %v\n%s", collectorConfig, err, out)
	}
	// With every address moved, as an end-to-end run on loopback does.
	env := []string{
		"OTELCOL_OTLP_GRPC_ENDPOINT=127.0.0.1:14317", "OTELCOL_OTLP_HTTP_ENDPOINT=127.0.0.1:14318",
		"OTELCOL_HEALTH_ENDPOINT=127.0.0.1:13133", "OTELCOL_PROMETHEUS_ENDPOINT=127.0.0.1:18889",
		"OTELCOL_METRICS_HOST=127.0.0.1", "OTELCOL_METRICS_PORT=18888",
		"JAEGER_OTLP_ENDPOINT=127.0.0.1:24317", "TEMPO_OTLP_ENDPOINT=127.0.0.1:34317",
		"LOKI_OTLP_ENDPOINT=http://127.0.0.1:3100/otlp", "TAIL_SAMPLING_DECISION_WAIT=5s",
		"TAIL_SAMPLING_SLOW_MS=1000", "TAIL_SAMPLING_PERCENTAGE=25", "DEPLOYMENT_ENVIRONMENT=ci",
	}
	if out, err := run(t, time.Minute, "", env, bin, "validate", "--config", collectorConfig); err != nil {
		t.Fatalf("otelcol validate with every address from the environment: %v\n%s", err, out)
	}
}

// TestCollectorValidateRejects makes sure validate is no rubber stamp: a
// pipeline naming a processor that is not defined, and a component this
// distribution lacks, are both refused.
func TestCollectorValidateRejects(t *testing.T) {
	bin := otelcolBinary(t)
	good, err := os.ReadFile(collectorConfig)
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(string) string{
		"undefined processor": func(s string) string {
			return strings.Replace(s, "processors: [memory_limiter, resource/environment, attributes/scrub, tail_sampling, batch]",
				"processors: [memory_limiter, resource/environment, attributes/scrub, tail_sampling, batch, transform]", 1)
		},
		"component not in the distribution": func(s string) string {
			return strings.Replace(s, "  batch:\n", "  filter/unused:\n    error_mode: ignore\n  batch:\n", 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			bad := edit(string(good))
			if bad == string(good) {
				t.Fatal("the edit did not apply: update the test with the configuration")
			}
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := run(t, time.Minute, "", nil, bin, "validate", "--config", path); err == nil {
				t.Fatalf("otelcol validate accepted a broken configuration:\n%s", out)
			}
		})
	}
}

// TestCollectorComponentsAllUsed checks what validate does not: every
// component the configuration defines is in a pipeline (or, for an
// extension, in service.extensions), and every one a pipeline names is
// defined.
func TestCollectorComponentsAllUsed(t *testing.T) {
	cfg, _ := loadCollector(t)
	used := cfg.used()
	for _, kind := range collectorKinds {
		var defined []string
		for id := range cfg.defined(kind) {
			defined = append(defined, id)
			if !slices.Contains(used[kind], id) {
				t.Errorf("%s %q is defined but no pipeline uses it", kind, id)
			}
		}
		for _, id := range used[kind] {
			if !slices.Contains(defined, id) {
				t.Errorf("%s %q is used but not defined", kind, id)
			}
		}
	}
}

// TestCollectorManifestMatchesConfig compares the distribution with the
// configuration: the component types the configuration uses are exactly
// those the built Collector has (`components`), and the modules it reports
// are exactly the manifest's.
func TestCollectorManifestMatchesConfig(t *testing.T) {
	cfg, m := loadCollector(t)
	for _, kind := range append(slices.Clone(collectorKinds), "providers") {
		for _, mod := range m.modules(kind) {
			_, version, ok := strings.Cut(mod, " ")
			want := otelcolVersion
			if kind == "providers" {
				want = "v1.67.0"
			}
			if !ok || version != want {
				t.Errorf("manifest %s: %q is not pinned at %s", kind, mod, want)
			}
		}
	}
	if m.Dist.Version != strings.TrimPrefix(otelcolVersion, "v") {
		t.Errorf("manifest dist.version = %q, want %s", m.Dist.Version, otelcolVersion)
	}

	bin := otelcolBinary(t)
	out, err := run(t, time.Minute, "", nil, bin, "components")
	if err != nil {
		t.Fatalf("otelcol components: %v\n%s", err, out)
	}
	var comps map[string]any
	if err := yaml.Unmarshal([]byte(out), &comps); err != nil {
		t.Fatalf("otelcol components: %v\n%s", err, out)
	}
	used := cfg.used()
	for _, kind := range collectorKinds {
		var types, mods []string
		list, _ := comps[kind].([]any)
		for _, c := range list {
			c, _ := c.(map[string]any)
			types = append(types, c["name"].(string))
			mods = append(mods, c["module"].(string))
		}
		var usedTypes []string
		for _, id := range used[kind] {
			usedTypes = append(usedTypes, componentType(id))
		}
		sort.Strings(types)
		sort.Strings(mods)
		sort.Strings(usedTypes)
		usedTypes = slices.Compact(usedTypes)
		if !slices.Equal(types, usedTypes) {
			t.Errorf("%s: the distribution has %v, the configuration uses %v: list exactly the components used", kind, types, usedTypes)
		}
		if !slices.Equal(mods, m.modules(kind)) {
			t.Errorf("%s: the built Collector reports %v, the manifest lists %v: rebuild it (scripts/install-deploy-tools)", kind, mods, m.modules(kind))
		}
	}
}

// TestCollectorPipelines holds the configuration to what the stack relies on.
func TestCollectorPipelines(t *testing.T) {
	cfg, _ := loadCollector(t)
	for _, signal := range []string{"traces", "metrics", "logs"} {
		p, ok := cfg.Service.Pipelines[signal]
		if !ok {
			t.Errorf("no %s pipeline", signal)
			continue
		}
		if !slices.Equal(p.Receivers, []string{"otlp"}) {
			t.Errorf("%s pipeline receives from %v, want the OTLP receiver", signal, p.Receivers)
		}
		if len(p.Processors) < 2 || p.Processors[0] != "memory_limiter" || p.Processors[len(p.Processors)-1] != "batch" {
			t.Errorf("%s pipeline processors %v: memory_limiter must come first and batch last", signal, p.Processors)
		}
		for _, want := range []string{"resource/environment", "attributes/scrub"} {
			if !slices.Contains(p.Processors, want) {
				t.Errorf("%s pipeline lacks %s: every signal is labelled and scrubbed", signal, want)
			}
		}
	}
	if got := cfg.Service.Pipelines["traces"].Exporters; !slices.Equal(got, []string{"otlp_grpc/jaeger", "otlp_grpc/tempo"}) {
		t.Errorf("traces go to %v, want Jaeger and Tempo over OTLP", got)
	}
	if got := cfg.Service.Pipelines["logs"].Exporters; !slices.Equal(got, []string{"otlp_http/loki"}) {
		t.Errorf("logs go to %v, want Loki's native OTLP endpoint", got)
	}
	if ep, _ := cfg.Exporters["otlp_http/loki"]["endpoint"].(string); !strings.HasSuffix(ep, "/otlp}") {
		t.Errorf("Loki exporter endpoint %q: want Loki's /otlp base (the exporter appends /v1/logs)", ep)
	}

	// Tail sampling: every error trace and every slow trace is kept, before
	// a share of the rest.
	if !slices.Contains(cfg.Service.Pipelines["traces"].Processors, "tail_sampling") {
		t.Fatal("the traces pipeline does not tail-sample")
	}
	ts := cfg.Processors["tail_sampling"]
	policies, _ := ts["policies"].([]any)
	var kinds []string
	for _, p := range policies {
		p, _ := p.(map[string]any)
		switch p["type"] {
		case "status_code":
			codes, _ := p["status_code"].(map[string]any)["status_codes"].([]any)
			if slices.Contains(codes, any("ERROR")) {
				kinds = append(kinds, "errors")
			}
		case "latency":
			kinds = append(kinds, "slow")
		case "and", "composite", "drop", "not":
			t.Errorf("policy %v of type %v could override the keep-every-error rule", p["name"], p["type"])
		}
	}
	if !slices.Contains(kinds, "errors") || !slices.Contains(kinds, "slow") {
		t.Errorf("tail sampling keeps %v: it must keep every error trace and every slow trace", kinds)
	}
	if ts["sample_on_first_match"] == true {
		t.Error("sample_on_first_match is not wanted: every policy is evaluated")
	}

	// Credentials and personal data: the scrub deletes authorization headers
	// and e-mail addresses.
	actions, _ := cfg.Processors["attributes/scrub"]["actions"].([]any)
	deleted := map[string]bool{}
	for _, a := range actions {
		a, _ := a.(map[string]any)
		if a["action"] == "delete" {
			if k, ok := a["key"].(string); ok {
				deleted[k] = true
			}
		}
	}
	for _, k := range []string{"http.request.header.authorization", "user.email"} {
		if !deleted[k] {
			t.Errorf("attributes/scrub does not delete %s", k)
		}
	}
}

// TestCollectorEndpointsFromEnvironment: every address the Collector
// listens on or sends to comes from a variable (with a default), so one
// file serves compose, Kubernetes and a loopback test run.
func TestCollectorEndpointsFromEnvironment(t *testing.T) {
	b, err := os.ReadFile(collectorConfig)
	if err != nil {
		t.Fatal(err)
	}
	envRef := regexp.MustCompile(`^\$\{env:[A-Z0-9_]+(:-[^}]*)?\}$`)
	endpoint := regexp.MustCompile(`(?m)^\s*(endpoint|host|port):\s*(\S+)\s*$`)
	matches := endpoint.FindAllStringSubmatch(string(b), -1)
	if len(matches) < 8 {
		t.Fatalf("found only %d endpoints in %s", len(matches), collectorConfig)
	}
	for _, m := range matches {
		if !envRef.MatchString(m[2]) {
			t.Errorf("%s: %s is not from the environment", m[1], m[2])
		}
	}
}
