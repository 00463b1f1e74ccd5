package telemetryzap_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

// trace_id and span_id stay at the top level of the local entry wherever the
// context comes, also after a namespace (opened by With or in the entry),
// and everything else is as zap writes it without a span.
func TestZapIDsOutsideNamespaces(t *testing.T) {
	cases := map[string]func(log *zap.Logger, ctx context.Context){
		"no namespace": func(log *zap.Logger, ctx context.Context) {
			log.With(zap.String("a", "1")).Info("m", telemetryzap.Context(ctx), zap.Int("n", 1))
		},
		"namespace by With, context in the entry": func(log *zap.Logger, ctx context.Context) {
			log.With(zap.String("a", "1"), zap.Namespace("req"), zap.String("b", "2")).With(zap.Int("c", 3)).
				Info("m", zap.Int("n", 1), telemetryzap.Context(ctx))
		},
		"namespace and context by With": func(log *zap.Logger, ctx context.Context) {
			log.With(zap.Namespace("req"), telemetryzap.Context(ctx), zap.String("b", "2")).Info("m", zap.Int("n", 1))
		},
		"namespace in the entry": func(log *zap.Logger, ctx context.Context) {
			log.Info("m", zap.String("a", "1"), zap.Namespace("ns"), zap.Int("n", 1), telemetryzap.Context(ctx))
		},
		"nested namespaces": func(log *zap.Logger, ctx context.Context) {
			log.With(zap.Namespace("x")).With(zap.Namespace("y"), zap.Int("d", 4)).Info("m", telemetryzap.Context(ctx))
		},
	}
	telemetrytest.New(t)
	for name, write := range cases {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			cfg := zap.NewProductionEncoderConfig()
			cfg.TimeKey = "" // so that the two entries compare equal
			log := zap.New(telemetryzap.NewCore("zap.test", zapcore.NewCore(zapcore.NewJSONEncoder(cfg), zapcore.AddSync(&buf), zap.InfoLevel)))
			write(log, context.Background())
			ctx, span := telemetry.Get("zap.test").Start(context.Background(), "work")
			write(log, ctx)
			span.End()

			lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
			if len(lines) != 2 {
				t.Fatalf("%d lines:\n%s", len(lines), buf.String())
			}
			var plain, traced map[string]any
			if err := json.Unmarshal(lines[0], &plain); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(lines[1], &traced); err != nil {
				t.Fatal(err)
			}
			sc := span.SpanContext()
			if traced["trace_id"] != sc.TraceID().String() || traced["span_id"] != sc.SpanID().String() {
				t.Errorf("ids not at the top level: %s", lines[1])
			}
			delete(traced, "trace_id")
			delete(traced, "span_id")
			if a, b := fmt.Sprint(plain), fmt.Sprint(traced); a != b {
				t.Errorf("entries differ beyond the ids:\nwithout span %s\nwith span    %s", lines[0], lines[1])
			}
		})
	}
}
