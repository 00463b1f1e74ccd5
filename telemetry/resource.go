package telemetry

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/loupe-dev/loupe/telemetry/internal/conf"
)

// detectors are run in parallel, each bounded by the detection time limit.
// Command-line arguments are left out on purpose: they often carry secrets.
// So is the process owner (a user name is personal data).
var detectors = map[string][]resource.Option{
	"host":      {resource.WithHost()},
	"os":        {resource.WithOS()},
	"container": {resource.WithContainer()},
	"process": {
		resource.WithProcessPID(),
		resource.WithProcessExecutableName(),
		resource.WithProcessRuntimeName(),
		resource.WithProcessRuntimeVersion(),
		resource.WithProcessRuntimeDescription(),
	},
	"sdk": {resource.WithTelemetrySDK()},
}

// buildResource merges the detected attributes with the configured ones;
// configured values (service.*, OTEL_RESOURCE_ATTRIBUTES, code options) win,
// the resolved service.* over the same keys in OTEL_RESOURCE_ATTRIBUTES.
// A detector that misses the time limit is skipped with a warning.
func buildResource(ctx context.Context, ec *conf.Config, extra []resource.Option, limit time.Duration, warn *warner) (*resource.Resource, error) {
	detectCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	type result struct {
		name string
		res  *resource.Resource
		err  error
	}
	results := make(chan result, len(detectors)) // buffered: late detectors never block
	for name, opts := range detectors {
		go func() {
			r, err := resource.New(detectCtx, append([]resource.Option{resource.WithSchemaURL(semconv.SchemaURL)}, opts...)...)
			results <- result{name, r, err}
		}()
	}
	merged := resource.Empty()
collect:
	for range detectors {
		select {
		case r := <-results:
			if r.err != nil && r.res == nil {
				warn.Once("detector:"+r.name, "telemetry: resource detector %s failed: %v", r.name, r.err)
				continue
			}
			if m, err := resource.Merge(merged, r.res); err == nil {
				merged = m
			}
		case <-detectCtx.Done():
			warn.Once("detector:timeout", "telemetry: resource detection took longer than %s; continuing without the detectors still running", limit)
			break collect
		}
	}

	attrs := make([]attribute.KeyValue, 0, len(ec.ResourceAttrs)+4)
	for _, k := range slices.Sorted(maps.Keys(ec.ResourceAttrs)) {
		attrs = append(attrs, attribute.String(k, ec.ResourceAttrs[k]))
	}
	attrs = append(attrs, semconv.ServiceName(ec.ServiceName), semconv.ServiceInstanceID(ec.ServiceInstanceID))
	if ec.ServiceVersion != "" {
		attrs = append(attrs, semconv.ServiceVersion(ec.ServiceVersion))
	}
	if ec.Environment != "" {
		attrs = append(attrs, semconv.DeploymentEnvironmentNameKey.String(ec.Environment))
	}
	configured, err := resource.New(ctx, append([]resource.Option{resource.WithSchemaURL(semconv.SchemaURL), resource.WithAttributes(attrs...)}, extra...)...)
	if err != nil && configured == nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	res, err := resource.Merge(merged, configured)
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return res, nil
}
