package deploy

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const grafanaDir = "grafana"

// grafanaDatasource is a provisioned data source; jsonData stays generic.
type grafanaDatasource struct {
	Name     string         `json:"name"`
	UID      string         `json:"uid"`
	Type     string         `json:"type"`
	URL      string         `json:"url"`
	JSONData map[string]any `json:"jsonData"`
}

// loadDatasources reads the provisioned data sources, with Grafana's $$
// escape (provisioning files expand environment variables) undone.
func loadDatasources(t *testing.T) map[string]grafanaDatasource {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(grafanaDir, "provisioning", "datasources", "datasources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`[^$]\$[{A-Za-z_]`).Find(b); m != nil {
		t.Errorf("datasources.yaml: %q would be expanded from the environment by Grafana: write $$", m)
	}
	var f struct {
		Datasources []grafanaDatasource `json:"datasources"`
	}
	if err := yamlUnmarshalString(strings.ReplaceAll(string(b), "$$", "$"), &f); err != nil {
		t.Fatal(err)
	}
	ds := map[string]grafanaDatasource{}
	for _, d := range f.Datasources {
		if _, dup := ds[d.UID]; dup || d.UID == "" {
			t.Errorf("data source %q: uid %q is empty or not unique", d.Name, d.UID)
		}
		ds[d.UID] = d
	}
	return ds
}

// grafanaVars stands in for the dashboards' variables when their queries
// are parsed.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h",
	"${service}", "gateway", "$service", "gateway", "$model", "demo-large", "$project", "search",
	"$instance", "otel-collector:8888", "$__tags", `job="gateway"`,
)

// checkPromQL parses a Grafana PromQL query and checks its metric names.
func checkPromQL(t *testing.T, where, q string, recorded map[string]bool) {
	t.Helper()
	expr, err := promqlParser.ParseExpr(grafanaVars.Replace(q))
	if err != nil {
		t.Errorf("%s: %q: %v", where, q, err)
		return
	}
	for _, m := range metricNames(expr) {
		if !knownMetric(m, recorded) {
			t.Errorf("%s: %q queries %s, which this stack does not produce", where, q, m)
		}
	}
}

// recordedRules is the set of the recording rules' outputs.
func recordedRules(t *testing.T) map[string]bool {
	t.Helper()
	rec := map[string]bool{}
	for _, f := range ruleFiles(t) {
		var rf ruleFile
		readYAML(t, f, &rf)
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					rec[r.Record] = true
				}
			}
		}
	}
	return rec
}

// datasourceUIDs collects every datasourceUid in a data source's jsonData.
func datasourceUIDs(v any, found *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "datasourceUid" {
				*found = append(*found, s)
			}
			datasourceUIDs(x, found)
		}
	case []any:
		for _, x := range v {
			datasourceUIDs(x, found)
		}
	}
}

// TestGrafanaDatasources: the jumps between signals are wired to data
// sources that are provisioned, and each points at a service of the stack.
func TestGrafanaDatasources(t *testing.T) {
	ds := loadDatasources(t)
	rec := recordedRules(t)
	compose := loadCompose(t)
	for uid, d := range ds {
		var refs []string
		datasourceUIDs(d.JSONData, &refs)
		for _, r := range refs {
			if _, ok := ds[r]; !ok {
				t.Errorf("data source %s links to %q, which is not provisioned", uid, r)
			}
		}
		u, err := url.Parse(d.URL)
		if err != nil {
			t.Errorf("data source %s: url %q: %v", uid, d.URL, err)
			continue
		}
		if s, ok := compose.Services[u.Hostname()]; !ok || !slices.Contains(s.Profiles, "full") {
			t.Errorf("data source %s points at %s, which is not a service of the compose file's full profile", uid, u.Host)
		}
	}
	for _, typ := range []string{"prometheus", "tempo", "jaeger", "loki"} {
		if d, ok := ds[typ]; !ok || d.Type != typ {
			t.Fatalf("no %s data source with uid %s", typ, typ)
		}
	}

	// Prometheus exemplars -> Tempo and Jaeger, by the exporter's trace_id.
	var exemplarTo []string
	for _, e := range ds["prometheus"].JSONData["exemplarTraceIdDestinations"].([]any) {
		e := e.(map[string]any)
		if e["name"] != "trace_id" {
			t.Errorf("exemplar destination on label %v: the Collector's exporter writes trace_id", e["name"])
		}
		exemplarTo = append(exemplarTo, e["datasourceUid"].(string))
	}
	if !slices.Contains(exemplarTo, "tempo") || !slices.Contains(exemplarTo, "jaeger") {
		t.Errorf("exemplars jump to %v, want Tempo and Jaeger", exemplarTo)
	}

	// Traces -> logs and -> metrics.
	for _, uid := range []string{"tempo", "jaeger"} {
		j := ds[uid].JSONData
		logs, _ := j["tracesToLogsV2"].(map[string]any)
		if logs["datasourceUid"] != "loki" {
			t.Errorf("%s: traces to logs goes to %v, want loki", uid, logs["datasourceUid"])
		}
		if q, _ := logs["query"].(string); !strings.HasPrefix(q, "{service_name=") || !strings.Contains(q, "trace_id=") {
			t.Errorf("%s: traces-to-logs query %q: want the span's service stream filtered by trace_id", uid, q)
		}
		metrics, _ := j["tracesToMetrics"].(map[string]any)
		if metrics["datasourceUid"] != "prometheus" {
			t.Errorf("%s: traces to metrics goes to %v, want prometheus", uid, metrics["datasourceUid"])
		}
		queries, _ := metrics["queries"].([]any)
		if len(queries) == 0 {
			t.Errorf("%s: traces to metrics has no queries", uid)
		}
		for _, q := range queries {
			checkPromQL(t, uid+" tracesToMetrics", q.(map[string]any)["query"].(string), rec)
		}
	}

	// Loki's trace_id -> Tempo (and Jaeger).
	var derivedTo []string
	for _, f := range ds["loki"].JSONData["derivedFields"].([]any) {
		f := f.(map[string]any)
		if f["matcherType"] != "label" || f["matcherRegex"] != "trace_id" {
			t.Errorf("derived field %v: want the trace_id structured metadata (matcherType label)", f["name"])
		}
		derivedTo = append(derivedTo, f["datasourceUid"].(string))
	}
	if !slices.Contains(derivedTo, "tempo") {
		t.Errorf("Loki's trace_id links to %v, want Tempo", derivedTo)
	}
}

// grafanaPanel is a dashboard panel, rows' nested panels included.
type grafanaPanel struct {
	Title      string `json:"title"`
	Type       string `json:"type"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Datasource *struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		Expr     string `json:"expr"`
		Query    string `json:"query"`
		Exemplar bool   `json:"exemplar"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"`
}

type grafanaDashboard struct {
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
			Datasource *struct {
				UID string `json:"uid"`
			} `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []grafanaPanel `json:"panels"`
}

// TestGrafanaDashboards: valid JSON; every PromQL query parses and names
// metrics the stack has; every LogQL and TraceQL query goes to a
// provisioned data source of its kind; every data source referenced is
// provisioned.
func TestGrafanaDashboards(t *testing.T) {
	ds := loadDatasources(t)
	rec := recordedRules(t)
	files, _ := filepath.Glob(filepath.Join(grafanaDir, "dashboards", "*.json"))
	uids := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d grafanaDashboard
		dec := json.NewDecoder(strings.NewReader(string(b)))
		if err := dec.Decode(&d); err != nil {
			t.Errorf("%s: invalid JSON: %v", f, err)
			continue
		}
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: no uid or title", f)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %s", f, other, d.UID)
		}
		uids[d.UID] = f
		name := filepath.Base(f)
		label := regexp.MustCompile(`^label_values\((\w+), *\w+\)$`)
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			m := label.FindStringSubmatch(v.Definition)
			if m == nil {
				t.Errorf("%s: variable %s: %q is not label_values(metric, label)", name, v.Name, v.Definition)
			} else if !knownMetric(m[1], rec) {
				t.Errorf("%s: variable %s reads %s, which this stack does not produce", name, v.Name, m[1])
			}
			if v.Datasource == nil || ds[v.Datasource.UID].Type != "prometheus" {
				t.Errorf("%s: variable %s has no provisioned Prometheus data source", name, v.Name)
			}
		}
		var queries int
		var walk func([]grafanaPanel)
		walk = func(ps []grafanaPanel) {
			for _, p := range ps {
				walk(p.Panels)
				if p.Type == "row" {
					continue
				}
				where := name + ": " + p.Title
				if p.Datasource == nil {
					t.Errorf("%s: no data source", where)
					continue
				}
				d, ok := ds[p.Datasource.UID]
				if !ok || d.Type != p.Datasource.Type {
					t.Errorf("%s: data source %+v is not provisioned", where, *p.Datasource)
					continue
				}
				if len(p.Targets) == 0 {
					t.Errorf("%s: no queries", where)
				}
				for _, tg := range p.Targets {
					queries++
					if tg.Datasource != nil && tg.Datasource.UID != p.Datasource.UID {
						if _, ok := ds[tg.Datasource.UID]; !ok {
							t.Errorf("%s: a query's data source %s is not provisioned", where, tg.Datasource.UID)
						}
					}
					switch d.Type {
					case "prometheus":
						checkPromQL(t, where, tg.Expr, rec)
						if tg.Exemplar && !strings.Contains(tg.Expr, "_bucket") && !strings.Contains(tg.Expr, "_count") {
							t.Errorf("%s: exemplars asked of %q, which reads no histogram", where, tg.Expr)
						}
					case "loki":
						if !regexp.MustCompile(`^\{service_name=~?"[^"]+"\}`).MatchString(tg.Expr) {
							t.Errorf("%s: LogQL %q does not select the services' streams by service_name", where, tg.Expr)
						}
					case "tempo":
						if !strings.HasPrefix(tg.Query, "{") || !strings.HasSuffix(tg.Query, "}") || !strings.Contains(tg.Query, "resource.service.name") {
							t.Errorf("%s: TraceQL %q is not a span set selecting services", where, tg.Query)
						}
					}
				}
			}
		}
		walk(d.Panels)
		if queries == 0 {
			t.Errorf("%s has no queries", name)
		}
	}
	for _, want := range []string{"loupe-service-overview", "loupe-genai-agents", "loupe-collector-health", "loupe-telemetry-health"} {
		if _, ok := uids[want]; !ok {
			t.Errorf("no dashboard %s", want)
		}
	}

	// The provider reads the directory the compose file mounts them in.
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `json:"path"`
			} `json:"options"`
		} `json:"providers"`
	}
	readYAML(t, filepath.Join(grafanaDir, "provisioning", "dashboards", "dashboards.yaml"), &prov)
	c := loadCompose(t)
	for _, p := range prov.Providers {
		if !slices.Contains(c.Services["grafana"].Volumes, "../grafana/dashboards:"+p.Options.Path+":ro") {
			t.Errorf("dashboard provider reads %s, where compose does not mount deploy/grafana/dashboards", p.Options.Path)
		}
	}
}
