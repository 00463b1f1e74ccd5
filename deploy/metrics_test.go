package deploy

import (
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

// serviceMetrics are the series names the demo services' metrics get in
// Prometheus through the Collector's prometheus exporter (the embedded
// `loupe serve` names them the same way), as listed by
// /api/v1/label/__name__/values during a `loupe demo` run. Rules and
// dashboards may only query these, the Collector's own metrics, Prometheus'
// `up` and `ALERTS`, and the recording rules' outputs: a typo in a metric name
// is otherwise an empty panel nobody notices.
var serviceMetrics = []string{
	"agent_deploy_duration_seconds_bucket",
	"agent_deploy_duration_seconds_count",
	"agent_deploy_duration_seconds_sum",
	"agents_active",
	"db_client_connections_create_time_milliseconds_bucket",
	"db_client_connections_create_time_milliseconds_count",
	"db_client_connections_create_time_milliseconds_sum",
	"db_client_connections_hits_total",
	"db_client_connections_idle_max",
	"db_client_connections_idle_min",
	"db_client_connections_max",
	"db_client_connections_misses_total",
	"db_client_connections_timeouts_total",
	"db_client_connections_usage",
	"db_client_connections_use_time_milliseconds_bucket",
	"db_client_connections_use_time_milliseconds_count",
	"db_client_connections_use_time_milliseconds_sum",
	"db_client_connections_waits_duration_nanoseconds",
	"db_client_connections_waits_total",
	"db_client_operation_duration_seconds_bucket",
	"db_client_operation_duration_seconds_count",
	"db_client_operation_duration_seconds_sum",
	"db_sql_connection_closed_max_idle_time_total",
	"db_sql_connection_closed_max_idle_total",
	"db_sql_connection_closed_max_lifetime_total",
	"db_sql_connection_max_open",
	"db_sql_connection_open",
	"db_sql_connection_wait_duration_milliseconds_total",
	"db_sql_connection_wait_total",
	"gateway_rate_limited_total",
	"gateway_usage_tokens_total",
	"gateway_validation_errors_total",
	"gen_ai_client_operation_duration_seconds_bucket",
	"gen_ai_client_operation_duration_seconds_count",
	"gen_ai_client_operation_duration_seconds_sum",
	"gen_ai_client_operation_time_per_output_chunk_seconds_bucket",
	"gen_ai_client_operation_time_per_output_chunk_seconds_count",
	"gen_ai_client_operation_time_per_output_chunk_seconds_sum",
	"gen_ai_client_operation_time_to_first_chunk_seconds_bucket",
	"gen_ai_client_operation_time_to_first_chunk_seconds_count",
	"gen_ai_client_operation_time_to_first_chunk_seconds_sum",
	"gen_ai_client_token_usage_bucket",
	"gen_ai_client_token_usage_count",
	"gen_ai_client_token_usage_sum",
	"gen_ai_server_request_duration_seconds_bucket",
	"gen_ai_server_request_duration_seconds_count",
	"gen_ai_server_request_duration_seconds_sum",
	"gen_ai_server_time_per_output_token_seconds_bucket",
	"gen_ai_server_time_per_output_token_seconds_count",
	"gen_ai_server_time_per_output_token_seconds_sum",
	"gen_ai_server_time_to_first_token_seconds_bucket",
	"gen_ai_server_time_to_first_token_seconds_count",
	"gen_ai_server_time_to_first_token_seconds_sum",
	"go_config_gogc_percent",
	"go_goroutine_count",
	"go_memory_allocated_bytes_total",
	"go_memory_allocations_total",
	"go_memory_gc_goal_bytes",
	"go_memory_used_bytes",
	"go_processor_limit",
	"http_client_request_body_size_bytes_bucket",
	"http_client_request_body_size_bytes_count",
	"http_client_request_body_size_bytes_sum",
	"http_client_request_duration_seconds_bucket",
	"http_client_request_duration_seconds_count",
	"http_client_request_duration_seconds_sum",
	"http_server_request_duration_seconds_bucket",
	"http_server_request_duration_seconds_count",
	"http_server_request_duration_seconds_sum",
	"loupe_telemetry_logs_dropped_total",
	"loupe_telemetry_logs_exported_total",
	"loupe_telemetry_logs_failed_total",
	"loupe_telemetry_metric_exports_failed_total",
	"loupe_telemetry_spans_dropped_total",
	"loupe_telemetry_spans_exported_total",
	"loupe_telemetry_spans_failed_total",
	"rpc_client_call_duration_seconds_bucket",
	"rpc_client_call_duration_seconds_count",
	"rpc_client_call_duration_seconds_sum",
	"rpc_server_call_duration_seconds_bucket",
	"rpc_server_call_duration_seconds_count",
	"rpc_server_call_duration_seconds_sum",
	"tts_cache_lookups_total",
	"worker_job_duration_seconds_bucket",
	"worker_job_duration_seconds_count",
	"worker_job_duration_seconds_sum",
	"worker_job_queue_time_seconds_bucket",
	"worker_job_queue_time_seconds_count",
	"worker_job_queue_time_seconds_sum",
	"worker_jobs_completed_total",
	"worker_jobs_failed_total",
}

// collectorMetrics are the Collector's own metrics (service.telemetry,
// level normal) as its Prometheus reader serves them at v0.161.0, with the
// exporter counters that appear only once data fails or is queued.
var collectorMetrics = []string{
	"otelcol_exporter_enqueue_failed_log_records_total",
	"otelcol_exporter_enqueue_failed_metric_points_total",
	"otelcol_exporter_enqueue_failed_spans_total",
	"otelcol_exporter_in_flight_requests",
	"otelcol_exporter_queue_capacity",
	"otelcol_exporter_queue_size",
	"otelcol_exporter_send_failed_log_records_total",
	"otelcol_exporter_send_failed_metric_points_total",
	"otelcol_exporter_send_failed_spans_total",
	"otelcol_exporter_sent_log_records_total",
	"otelcol_exporter_sent_metric_points_total",
	"otelcol_exporter_sent_spans_total",
	"otelcol_process_cpu_seconds_total",
	"otelcol_process_memory_rss_bytes",
	"otelcol_process_runtime_heap_alloc_bytes",
	"otelcol_process_runtime_total_alloc_bytes_total",
	"otelcol_process_runtime_total_sys_memory_bytes",
	"otelcol_process_uptime_seconds_total",
	"otelcol_processor_batch_batch_send_size_bucket",
	"otelcol_processor_batch_batch_send_size_count",
	"otelcol_processor_batch_batch_send_size_sum",
	"otelcol_processor_batch_metadata_cardinality",
	"otelcol_processor_batch_timeout_trigger_send_total",
	"otelcol_processor_incoming_items_total",
	"otelcol_processor_memory_limiter_accepted_log_records_total",
	"otelcol_processor_memory_limiter_accepted_metric_points_total",
	"otelcol_processor_memory_limiter_accepted_spans_total",
	"otelcol_processor_outgoing_items_total",
	"otelcol_processor_tail_sampling_count_traces_sampled_total",
	"otelcol_processor_tail_sampling_global_count_traces_sampled_total",
	"otelcol_processor_tail_sampling_new_trace_id_received_total",
	"otelcol_processor_tail_sampling_sampling_decision_timer_latency_milliseconds_bucket",
	"otelcol_processor_tail_sampling_sampling_decision_timer_latency_milliseconds_count",
	"otelcol_processor_tail_sampling_sampling_decision_timer_latency_milliseconds_sum",
	"otelcol_processor_tail_sampling_sampling_policy_evaluation_error_total",
	"otelcol_processor_tail_sampling_sampling_policy_execution_count_total",
	"otelcol_processor_tail_sampling_sampling_policy_execution_time_sum_microseconds_total",
	"otelcol_processor_tail_sampling_sampling_trace_dropped_too_early_total",
	"otelcol_processor_tail_sampling_sampling_trace_removal_age_seconds_bucket",
	"otelcol_processor_tail_sampling_sampling_trace_removal_age_seconds_count",
	"otelcol_processor_tail_sampling_sampling_trace_removal_age_seconds_sum",
	"otelcol_processor_tail_sampling_sampling_traces_on_memory",
	"otelcol_receiver_accepted_log_records_total",
	"otelcol_receiver_accepted_metric_points_total",
	"otelcol_receiver_accepted_spans_total",
	"otelcol_receiver_failed_log_records_total",
	"otelcol_receiver_failed_metric_points_total",
	"otelcol_receiver_failed_spans_total",
	"otelcol_receiver_refused_log_records_total",
	"otelcol_receiver_refused_metric_points_total",
	"otelcol_receiver_refused_spans_total",
}

// promqlParser parses as Prometheus does, without experimental functions.
var promqlParser = parser.NewParser(parser.Options{})

// metricNames lists the metric names an expression selects by equality
// (a selector without one, such as {__name__=~"..."}, names none).
func metricNames(expr parser.Expr) []string {
	var names []string
	for _, matchers := range parser.ExtractSelectors(expr) {
		for _, m := range matchers {
			if m.Name == "__name__" && m.Type.String() == "=" {
				names = append(names, m.Value)
			}
		}
	}
	return names
}

// knownMetric reports whether name is a series Prometheus has in this stack;
// recorded holds the recording rules' outputs.
func knownMetric(name string, recorded map[string]bool) bool {
	if recorded[name] || name == "up" || name == "ALERTS" || name == "ALERTS_FOR_STATE" {
		return true
	}
	for _, list := range [][]string{serviceMetrics, collectorMetrics} {
		for _, n := range list {
			if n == name {
				return true
			}
		}
	}
	return strings.HasPrefix(name, "prometheus_")
}
