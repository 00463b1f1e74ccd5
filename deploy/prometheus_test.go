package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const prometheusDir = "prometheus"

// ruleFile is a Prometheus rule file.
type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Record      string            `json:"record"`
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

// ruleTests is a promtool test file.
type ruleTests struct {
	RuleFiles []string `json:"rule_files"`
	Tests     []struct {
		Name          string `json:"name"`
		AlertRuleTest []struct {
			EvalTime  string `json:"eval_time"`
			AlertName string `json:"alertname"`
			ExpAlerts []struct {
				ExpLabels map[string]string `json:"exp_labels"`
			} `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

func ruleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(prometheusDir, "rules", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files in %s/rules: %v", prometheusDir, err)
	}
	return files
}

func TestPromtoolCheckConfig(t *testing.T) {
	promtool := lookPath(t, "promtool")
	out, err := run(t, time.Minute, prometheusDir, nil, promtool, "check", "config", "prometheus.yml")
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	promtool := lookPath(t, "promtool")
	files := ruleFiles(t)
	for i, f := range files {
		files[i], _ = filepath.Rel(prometheusDir, f)
	}
	out, err := run(t, time.Minute, prometheusDir, nil, promtool, append([]string{"check", "rules"}, files...)...)
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

// TestPromtoolTestRules runs the alert rules' unit tests.
func TestPromtoolTestRules(t *testing.T) {
	promtool := lookPath(t, "promtool")
	tests, err := filepath.Glob(filepath.Join(prometheusDir, "tests", "*.yml"))
	if err != nil || len(tests) == 0 {
		t.Fatalf("no rule tests in %s/tests: %v", prometheusDir, err)
	}
	for i, f := range tests {
		tests[i], _ = filepath.Rel(prometheusDir, f)
	}
	out, err := run(t, 2*time.Minute, prometheusDir, nil, promtool, append([]string{"test", "rules"}, tests...)...)
	if err != nil || !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// TestAlertRulesReviewed checks what a reviewer of the rules would: every
// expression parses with today's PromQL parser and queries only series this
// stack has; every alert has a severity, a summary and a runbook line whose
// runbook_url anchor is a heading of deploy/README.md; and every alert has a
// unit test in which it fires and one in which it stays quiet.
func TestAlertRulesReviewed(t *testing.T) {
	var rules []ruleFile
	recorded := map[string]bool{}
	for _, f := range ruleFiles(t) {
		var rf ruleFile
		readYAML(t, f, &rf)
		rules = append(rules, rf)
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					recorded[r.Record] = true
				}
			}
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}

	fires, quiet := map[string]bool{}, map[string]bool{}
	testFiles, _ := filepath.Glob(filepath.Join(prometheusDir, "tests", "*.yml"))
	for _, f := range testFiles {
		var rt ruleTests
		readYAML(t, f, &rt)
		for _, tc := range rt.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.AlertName] = true
				} else {
					quiet[a.AlertName] = true
				}
			}
		}
	}

	var alerts int
	for _, rf := range rules {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				name := r.Record + r.Alert
				expr, err := promqlParser.ParseExpr(r.Expr)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				for _, m := range metricNames(expr) {
					if !knownMetric(m, recorded) {
						t.Errorf("%s queries %s, which no service or Collector of this stack produces", name, m)
					}
				}
				if r.Alert == "" {
					continue
				}
				alerts++
				if s := r.Labels["severity"]; s != "page" && s != "ticket" {
					t.Errorf("alert %s: severity %q, want page or ticket", name, s)
				}
				for _, a := range []string{"summary", "runbook", "runbook_url"} {
					if strings.TrimSpace(r.Annotations[a]) == "" {
						t.Errorf("alert %s has no %s annotation", name, a)
					}
				}
				anchor := "#runbook-" + strings.ToLower(name)
				if !strings.HasSuffix(r.Annotations["runbook_url"], "deploy/README.md"+anchor) {
					t.Errorf("alert %s: runbook_url %q does not point at deploy/README.md%s", name, r.Annotations["runbook_url"], anchor)
				}
				if !regexp.MustCompile(`(?m)^#+ Runbook: ` + name + `$`).Match(readme) {
					t.Errorf("alert %s: deploy/README.md has no heading %q", name, "Runbook: "+name)
				}
				if !fires[name] {
					t.Errorf("alert %s has no promtool test in which it fires", name)
				}
				if !quiet[name] {
					t.Errorf("alert %s has no promtool test in which it stays quiet", name)
				}
			}
		}
	}
	if alerts == 0 {
		t.Fatal("no alert rules found")
	}
	// The alerts the stack promises (deploy/README.md).
	for _, want := range []string{"ServiceHighErrorRate", "LatencySLOBurnFast", "LatencySLOBurnSlow",
		"OtelCollectorRefusingData", "OtelCollectorExportFailing", "TelemetryDropped", "GenAITokenBudgetBurn"} {
		if !fires[want] {
			t.Errorf("alert %s is missing or untested", want)
		}
	}
}

// TestPrometheusScrapesTheStack: the configuration scrapes the Collector's
// exporter with honor_labels (so job stays service.name), the Collector
// itself, and loads the rule files.
func TestPrometheusScrapesTheStack(t *testing.T) {
	var cfg struct {
		RuleFiles     []string `json:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			HonorLabels   bool   `json:"honor_labels"`
			FileSDConfigs []struct {
				Files []string `json:"files"`
			} `json:"file_sd_configs"`
		} `json:"scrape_configs"`
	}
	readYAML(t, filepath.Join(prometheusDir, "prometheus.yml"), &cfg)
	if !slices.Contains(cfg.RuleFiles, "rules/*.yml") {
		t.Errorf("rule_files %v does not load rules/*.yml", cfg.RuleFiles)
	}
	jobs := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs {
		jobs[sc.JobName] = true
		if sc.JobName == "services" && !sc.HonorLabels {
			t.Error("the services job must honor the exporter's job and instance labels")
		}
		for _, sd := range sc.FileSDConfigs {
			for _, f := range sd.Files {
				if _, err := os.Stat(filepath.Join(prometheusDir, f)); err != nil {
					t.Errorf("job %s: %v", sc.JobName, err)
				}
			}
		}
	}
	for _, j := range []string{"services", "otel-collector"} {
		if !jobs[j] {
			t.Errorf("no scrape job %s", j)
		}
	}
	// The alert on the Collector being down matches the job's name.
	b, _ := os.ReadFile(filepath.Join(prometheusDir, "rules", "alerts.yml"))
	if !strings.Contains(string(b), fmt.Sprintf(`up{job=%q}`, "otel-collector")) {
		t.Error(`OtelCollectorDown does not select up{job="otel-collector"}`)
	}
}
