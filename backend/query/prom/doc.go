// Package prom serves the metrics of a store through a subset of the
// Prometheus HTTP API: enough for Grafana's Prometheus data source to draw
// request-rate, error-rate and latency-percentile panels and to show
// exemplars.
//
// Queries run on the Prometheus project's own PromQL engine
// (github.com/prometheus/prometheus/promql) over a [storage.Queryable] that
// reads the store. Routes: /api/v1/query and /api/v1/query_range,
// /api/v1/labels, /api/v1/label/{name}/values, /api/v1/series (GET and POST
// form where Prometheus accepts both), /api/v1/metadata,
// /api/v1/query_exemplars and /api/v1/status/buildinfo, and one route of
// Loupe's own, /api/v1/rate_interval (see below). Answers use
// Prometheus' envelope, {"status":"success","data":…} or
// {"status":"error","errorType":"bad_data","error":…}, with its status
// codes: 400 for bad parameters and bad PromQL, 422 when a query fails or
// exceeds a limit, 503 on timeout or a closed store.
//
// # Names
//
// Each OpenTelemetry series appears under the names the OpenTelemetry Go
// SDK's Prometheus exporter gives it (go.opentelemetry.io/otel/exporters/prometheus,
// default translation strategy UnderscoreEscapingWithSuffixes of
// github.com/prometheus/otlptranslator), so that one query works against
// Loupe, against that exporter scraped by Prometheus, and against the
// Collector's Prometheus exporters:
//
//   - a histogram http.server.request.duration in unit "s" becomes
//     http_server_request_duration_seconds_bucket (with le),
//     http_server_request_duration_seconds_sum and
//     http_server_request_duration_seconds_count; le values are written as
//     Prometheus' own OTLP receiver writes them ("0.005", "1", "+Inf"; a
//     Prometheus 3 scrape writes "1.0"), which matters only to a matcher on
//     le, not to "by (le)";
//   - a monotonic sum app.jobs.processed in unit "{job}" becomes
//     app_jobs_processed_total; a non-monotonic sum or a gauge keeps no
//     _total suffix (system.memory.usage in "By" becomes
//     system_memory_usage_bytes);
//   - attribute names are escaped (http.route becomes http_route; values of
//     attributes whose escaped names collide are sorted and joined with ";");
//   - the scope is otel_scope_name and otel_scope_version, and the resource
//     gives job (service.namespace/service.name, or service.name) and
//     instance (service.instance.id), as a Prometheus scrape of the
//     exporter or the Collector's exporters would add them;
//   - each resource also has a target_info gauge of 1 with job, instance and
//     its other attributes as labels, for joins such as
//     "… * on (job, instance) group_left (host_name) target_info".
//
// Store series that translate to the same labels are one Prometheus series:
// a service restarted with no service.instance.id (or the same one) keeps
// its job and instance, and its runs differ only in resource attributes that
// give no label, such as process.pid. Their samples are merged in time
// order, as Prometheus holds the samples of several writers of one series
// when it accepts them out of order, so the new run's counter is a counter
// reset to rate() and increase(); where two share a timestamp, the first
// stays. Runs with distinct instance ids are distinct series.
//
// A counter (monotonic sum, histogram, summary count and sum) whose point
// has a start time before its time starts from a zero sample at that start
// time, at its first point and wherever the start time changes (a new
// process, a reset), as Prometheus' OTLP receiver writes it when it ingests
// created timestamps: rate() and increase() then count what a process
// counted before its first export, the whole first minute at the SDKs'
// default interval.
//
// Delta sums and histograms are accumulated, from the first point of the
// queried range, into cumulative series, so that rate(), increase() and
// histogram_quantile() answer as for cumulative data. A point flagged "no
// recorded value" is a stale marker.
//
// An exponential histogram payload.size in "By" is a native histogram
// payload_size_bytes, as Prometheus' OTLP receiver stores it and the SDK's
// Prometheus exporter exposes it (same buckets, indexes shifted by one,
// scales above 8 merged down to 8, scales below -4 left out, the point's own
// zero threshold), so histogram_quantile(), histogram_count(),
// histogram_sum() and rate() work on it; payload_size_bytes_count and
// payload_size_bytes_sum are also served, as a text-format scrape of the
// exporter has them. A summary rpc.duration in "ms" gives
// rpc_duration_milliseconds{quantile="0.99"} (quantiles written as
// Prometheus' OTLP receiver writes them: "0", "0.5", "1"),
// rpc_duration_milliseconds_sum and rpc_duration_milliseconds_count, as the
// Collector's Prometheus exporters give them.
//
// Exemplars are those of the stored points, with trace_id and span_id
// labels in hex and their filtered attributes; a histogram's exemplar is on
// the _bucket series whose le holds its value, as the Prometheus client puts
// it, an exponential histogram's on its native histogram series. Each
// comes once per series, in time order, though cumulative exports repeat an
// exemplar until a newer one replaces it (Prometheus' exemplar storage also
// keeps it once).
//
// # Rate windows
//
// OpenTelemetry SDKs push every 60 s by default, so the [1m] of a scraped
// Prometheus holds one sample and rate() draws nothing.
// /api/v1/rate_interval?query=…&start=…&end=…&step=… (GET or POST) measures
// the median spacing of the samples of each series the query's selectors
// match in the range and answers
// {"sampleInterval": 60, "rateInterval": "4m", "series": 6}: the largest
// median in seconds (0 when no series has two samples; the window then
// assumes [DefaultSampleInterval]) and the window [RateInterval] gives for
// it at that step, max(4 intervals, step + interval), as Grafana's
// $__rate_interval computes from a configured scrape interval.
//
// # Cost
//
// A query holds at most WithMaxSamples samples at once and reads at most as
// many from the store, runs at most WithTimeout, and each of its selectors
// may match at most WithMaxSeries series; the querier behind a query reads
// the store once, fails when more than ten times that many stored series
// have points in its range, and works out samples only for the series a
// selector matches. At most WithMaxConcurrent queries run at once; later
// ones wait for a turn within their timeout.
package prom

import "github.com/prometheus/prometheus/storage"

var _ storage.Queryable = (*queryable)(nil)
