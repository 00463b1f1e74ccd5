package telemetryzap_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/loupe-dev/loupe/telemetry"
	"github.com/loupe-dev/loupe/telemetry/telemetrytest"
	"github.com/loupe-dev/loupe/telemetry/telemetryzap"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestZapEntriesAreCorrelated(t *testing.T) {
	var buf bytes.Buffer
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	// The logger is built before Setup, as a package-level logger would be.
	log := zap.New(telemetryzap.NewCore("zap.test", zapcore.NewCore(enc, zapcore.AddSync(&buf), zap.InfoLevel)))

	tel := telemetrytest.New(t)
	ctx, span := telemetry.Get("zap.test").Start(context.Background(), "work")
	log.Info("order placed", telemetryzap.Context(ctx), zap.String("order.id", "A1"))
	log.Debug("filtered")
	span.End()

	var local map[string]any
	if err := json.Unmarshal(buf.Bytes(), &local); err != nil {
		t.Fatalf("local output %q: %v", buf.String(), err)
	}
	sc := span.SpanContext()
	if local["trace_id"] != sc.TraceID().String() || local["span_id"] != sc.SpanID().String() || local["order.id"] != "A1" {
		t.Errorf("local entry %v lacks the ids or fields", local)
	}
	if _, ok := local["context"]; ok {
		t.Error("the context field leaked into the local output")
	}
	recs := tel.Logs.Records()
	if len(recs) != 1 {
		t.Fatalf("exported %d records, want 1", len(recs))
	}
	if recs[0].TraceID() != sc.TraceID() || recs[0].Body().AsString() != "order placed" {
		t.Errorf("exported record trace %s body %q", recs[0].TraceID(), recs[0].Body().AsString())
	}
}
