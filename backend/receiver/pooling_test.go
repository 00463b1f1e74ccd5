package receiver_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

// With pdata's proto pooling on, as loupe serve runs, the receiver hands
// every request back to the pools once stored; what the store keeps must
// be exactly what a store given the same data directly keeps, whatever
// requests follow and reuse the pooled messages.
func TestPoolingKeepsStoredDataIntact(t *testing.T) {
	for _, pooling := range []bool{false, true} {
		t.Run(fmt.Sprintf("pooling=%v", pooling), func(t *testing.T) {
			defer setPooling(t, pooling)()
			ctx := context.Background()
			traces := storetest.LoadTraces(24, storetest.Base.Add(time.Hour))
			traces = append(traces, storetest.Traces(
				storetest.SpanSpec{Service: "web", Trace: 1, ID: 1, Name: "GET /", Dur: time.Millisecond, Event: "retry", LinkTo: 2,
					Attrs: map[string]any{"ok": true, "ratio": 0.5, "bytes": []byte{1, 2}, "tags": []any{"a", 1}}},
				storetest.SpanSpec{Service: "db", Trace: 1, ID: 2, Parent: 1, Name: "query", Error: "timeout"}))
			var metrics []pmetric.Metrics
			var logs []plog.Logs
			for i := range 8 {
				metrics = append(metrics, storetest.Metrics("api", fmt.Sprintf("/r%d", i%3), time.Duration(i)*time.Second, float64(i), byte(i)),
					storetest.Distributions("api", fmt.Sprintf("/r%d", i%3), time.Duration(i)*time.Second, float64(i+1)))
				logs = append(logs, storetest.Logs(storetest.LogSpec{Service: "api", Trace: byte(i + 1), Span: 1, At: time.Duration(i) * time.Second, Body: fmt.Sprintf("line %d", i)}))
			}

			direct := memstore.New(memstore.WithMaxBytes(1 << 30))
			defer direct.Close()
			for _, td := range traces {
				if _, err := direct.WriteTraces(ctx, td); err != nil {
					t.Fatal(err)
				}
			}
			for i := range metrics {
				_, _ = direct.WriteMetrics(ctx, metrics[i])
			}
			for _, ld := range logs {
				_, _ = direct.WriteLogs(ctx, ld)
			}

			mux, received := newHTTP(t)
			type req struct {
				path, ctype, cenc string
				body              []byte
			}
			var reqs []req
			for i, td := range traces {
				r := ptraceotlp.NewExportRequestFromTraces(td)
				switch i % 3 {
				case 0:
					reqs = append(reqs, req{"/v1/traces", "application/x-protobuf", "", must(r.MarshalProto())})
				case 1:
					reqs = append(reqs, req{"/v1/traces", "application/json", "", must(r.MarshalJSON())})
				default:
					reqs = append(reqs, req{"/v1/traces", "application/x-protobuf", "gzip", gz(t, must(r.MarshalProto()))})
				}
			}
			for _, md := range metrics {
				reqs = append(reqs, req{"/v1/metrics", "application/x-protobuf", "", must(pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto())})
			}
			for _, ld := range logs {
				reqs = append(reqs, req{"/v1/logs", "application/json", "", must(plogotlp.NewExportRequestFromLogs(ld).MarshalJSON())})
			}
			// Metrics and logs in order (a series' points and the log
			// order depend on it); traces from four clients at once.
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < len(traces); i += 4 {
						if rec := post(mux, reqs[i].path, reqs[i].ctype, reqs[i].cenc, reqs[i].body); rec.Code != http.StatusOK {
							t.Errorf("%s: %d %s", reqs[i].path, rec.Code, rec.Body)
						}
					}
				}()
			}
			wg.Wait()
			for _, r := range reqs[len(traces):] {
				if rec := post(mux, r.path, r.ctype, r.cenc, r.body); rec.Code != http.StatusOK {
					t.Fatalf("%s: %d %s", r.path, rec.Code, rec.Body)
				}
			}

			var ids []store.TraceID
			for _, td := range traces {
				for _, rs := range td.ResourceSpans().All() {
					for _, ss := range rs.ScopeSpans().All() {
						for _, sp := range ss.Spans().All() {
							ids = append(ids, sp.TraceID())
						}
					}
				}
			}
			slices.SortFunc(ids, func(a, b store.TraceID) int { return bytes.Compare(a[:], b[:]) })
			ids = slices.Compact(ids)
			for _, id := range ids {
				want, err1 := direct.Trace(ctx, id)
				got, err2 := received.Trace(ctx, id)
				if err1 != nil || err2 != nil {
					t.Fatalf("trace %s: %v %v", id, err1, err2)
				}
				bySpan := func(a, b *store.Span) int { return bytes.Compare(a.SpanID[:], b.SpanID[:]) }
				slices.SortFunc(want.Spans, bySpan)
				slices.SortFunc(got.Spans, bySpan)
				if !reflect.DeepEqual(want, got) {
					t.Fatalf("trace %s differs", id)
				}
			}
			wantSeries := collectAll(t, direct.FindSeries(ctx, store.SeriesQuery{Limit: 1000}))
			gotSeries := collectAll(t, received.FindSeries(ctx, store.SeriesQuery{Limit: 1000}))
			if len(wantSeries) == 0 || !reflect.DeepEqual(wantSeries, gotSeries) {
				t.Errorf("series differ: %d stored directly, %d received", len(wantSeries), len(gotSeries))
			}
			wantLogs := collectAll(t, direct.FindLogs(ctx, store.LogQuery{Limit: 1000}))
			gotLogs := collectAll(t, received.FindLogs(ctx, store.LogQuery{Limit: 1000}))
			if len(wantLogs) != len(logs) || !reflect.DeepEqual(wantLogs, gotLogs) {
				t.Errorf("logs differ: %d stored directly, %d received", len(wantLogs), len(gotLogs))
			}
		})
	}
}

func collectAll[T any](t *testing.T, seq func(func(T, error) bool)) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}
