package prom_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/loupe-dev/loupe/backend/query/prom"
	"github.com/loupe-dev/loupe/backend/receiver"
	"github.com/loupe-dev/loupe/backend/store/memstore"
)

// The OpenTelemetry Go SDK records the same instruments into two readers:
// its own Prometheus exporter, scraped over HTTP, and an OTLP exporter that
// sends to Loupe's receiver. Every series of the scrape has a twin in
// /api/v1/series with the same metric name and label names, besides job and
// instance, which a Prometheus scrape adds and Loupe takes from the
// resource; so one query works against both.
func TestSameNamesAsSDKExporter(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	defer st.Close()
	mux := http.NewServeMux()
	receiver.New(st).RegisterRoutes(mux)
	prom.New(st).RegisterRoutes(mux)
	loupe := httptest.NewServer(mux)
	defer loupe.Close()

	reg := prometheus.NewRegistry()
	promExp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	otlpExp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(loupe.URL+"/v1/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := resource.Merge(resource.Empty(), resource.NewSchemaless(
		attribute.String("service.name", "parity"),
		attribute.String("service.instance.id", "p-1"),
	))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(res),
		sdkmetric.WithView(sdkmetric.NewView(sdkmetric.Instrument{Name: "app.payload.size"},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}})),
		sdkmetric.WithReader(promExp),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(otlpExp, sdkmetric.WithInterval(time.Hour))),
	)
	defer func() {
		if err := mp.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()

	meter := mp.Meter("loupe.test/parity", metric.WithInstrumentationVersion("1.2.3"))
	route := metric.WithAttributes(
		attribute.String("http.request.method", "GET"),
		attribute.String("http.route", "/cart"),
		attribute.Int("http.response.status_code", 200),
	)
	dur := must(meter.Float64Histogram("http.server.request.duration", metric.WithUnit("s")))
	dur.Record(ctx, 0.02, route)
	jobs := must(meter.Int64Counter("app.jobs.processed", metric.WithUnit("{job}")))
	jobs.Add(ctx, 3, metric.WithAttributes(attribute.String("job.kind", "email")))
	sent := must(meter.Float64Counter("app.bytes.sent", metric.WithUnit("By")))
	sent.Add(ctx, 512)
	cpu := must(meter.Float64Counter("process.cpu.time", metric.WithUnit("ms")))
	cpu.Add(ctx, 12.5)
	queue := must(meter.Int64UpDownCounter("queue.size", metric.WithUnit("{item}")))
	queue.Add(ctx, 4, metric.WithAttributes(attribute.String("queue.name", "mail")))
	mem := must(meter.Int64Gauge("system.memory.usage", metric.WithUnit("By")))
	mem.Record(ctx, 1<<20)
	util := must(meter.Float64Gauge("app.utilization", metric.WithUnit("1")))
	util.Record(ctx, 0.5)
	payload := must(meter.Int64Histogram("app.payload.size", metric.WithUnit("By")))
	payload.Record(ctx, 1500, metric.WithAttributes(attribute.String("rpc.method", "Put")))
	if err := mp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}

	scraped := scrape(t, reg)
	if len(scraped) == 0 {
		t.Fatal("the exporter exposed nothing")
	}

	code, body := get(t, loupe, "/api/v1/series?"+url.Values{"match[]": {`{__name__=~".+"}`}}.Encode())
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var r struct{ Data []map[string]string }
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, ls := range r.Data {
		if ls["job"] != "parity" || ls["instance"] != "p-1" {
			t.Errorf("series without the job and instance of the resource: %v", ls)
		}
		delete(ls, "job")
		delete(ls, "instance")
		served = append(served, shape(ls[model.MetricNameLabel], ls))
	}
	slices.Sort(served)
	served = slices.Compact(served)

	if !slices.Equal(scraped, served) {
		t.Errorf("names differ\nexporter:\n  %s\nloupe:\n  %s", strings.Join(scraped, "\n  "), strings.Join(served, "\n  "))
	}
	// The instruments above, under the names the exporter gave them.
	for _, name := range []string{
		"http_server_request_duration_seconds_bucket", "app_jobs_processed_total",
		"app_bytes_sent_total", "process_cpu_time_milliseconds_total", // no second "bytes"
		"queue_size", "system_memory_usage_bytes", "app_utilization_ratio", "target_info",
		"app_payload_size_bytes", "app_payload_size_bytes_count",
	} {
		if !slices.ContainsFunc(served, func(s string) bool { return strings.HasPrefix(s, name+"{") }) {
			t.Errorf("%s missing from %v", name, served)
		}
	}
}

// shape is a series' name and sorted label names, the part a query's
// selectors and groupings depend on.
func shape(name string, ls map[string]string) string {
	var names []string
	for k, v := range ls {
		if k != model.MetricNameLabel && v != "" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return name + "{" + strings.Join(names, ",") + "}"
}

// scrape reads the registry through promhttp as Prometheus would and
// returns the shapes of its series, histograms as their _bucket, _sum and
// _count series. A native histogram (an exponential one, which the
// exporter exposes as a native histogram without classic buckets) is its
// own name, as a Prometheus scrape with native histograms stores it, and
// its _sum and _count, as a text-format scrape has them; Loupe serves all
// three.
func scrape(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	gathered, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	native := map[string]bool{}
	for _, f := range gathered {
		for _, m := range f.GetMetric() {
			if h := m.GetHistogram(); h != nil && h.Schema != nil && len(h.GetBucket()) == 0 {
				native[f.GetName()] = true
			}
		}
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for name, f := range families {
		if name == "target_info" {
			// Loupe has job and instance for these, as the Collector does.
			for _, m := range f.GetMetric() {
				ls := map[string]string{}
				for _, l := range m.GetLabel() {
					switch l.GetName() {
					case "service_name", "service_namespace", "service_instance_id":
					default:
						ls[l.GetName()] = l.GetValue()
					}
				}
				out = append(out, shape(name, ls))
			}
			continue
		}
		for _, m := range f.GetMetric() {
			ls := map[string]string{}
			for _, l := range m.GetLabel() {
				ls[l.GetName()] = l.GetValue()
			}
			if f.GetType() == dto.MetricType_HISTOGRAM {
				out = append(out, shape(name+"_sum", ls), shape(name+"_count", ls))
				if native[name] {
					out = append(out, shape(name, ls))
					continue
				}
				ls["le"] = "+Inf"
				out = append(out, shape(name+"_bucket", ls))
				continue
			}
			out = append(out, shape(name, ls))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
