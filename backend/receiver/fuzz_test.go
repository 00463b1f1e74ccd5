package receiver_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/loupe-dev/loupe/backend/receiver"
	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

var fuzzPaths = []string{"/v1/traces", "/v1/metrics", "/v1/logs"}

// FuzzHTTP sends arbitrary bodies through decoding and into a real store:
// the answer must be one of the documented statuses, and the store must
// still answer queries afterwards.
func FuzzHTTP(f *testing.F) {
	traces := traceRequest()
	metrics := pmetricotlp.NewExportRequestFromMetrics(storetest.Metrics("api", "/", time.Second, 1, 1))
	logs := plogotlp.NewExportRequestFromLogs(storetest.Logs(storetest.LogSpec{Service: "api", Trace: 1, Span: 1, Body: "x"}))
	for i, m := range []marshaler{traces, metrics, logs} {
		f.Add(uint8(i), false, false, must(m.MarshalProto()))
		f.Add(uint8(i), true, false, must(m.MarshalJSON()))
		f.Add(uint8(i), false, true, gz(f, must(m.MarshalProto())))
	}
	f.Add(uint8(0), false, false, []byte{0x0a, 0x80, 0x80, 0x80, 0x80, 0x08}) // a length past the end
	f.Add(uint8(0), true, false, []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`))
	f.Add(uint8(1), true, false, []byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","histogram":{"dataPoints":[{"bucketCounts":["1"],"explicitBounds":[]}]}}]}]}]}`))
	f.Add(uint8(2), true, false, []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"kvlistValue":{"values":[{"key":"a"}]}}}]}]}]}`))

	s := memstore.New(memstore.WithMaxBytes(1 << 20))
	f.Cleanup(func() { _ = s.Close() })
	mux := http.NewServeMux()
	receiver.New(s, receiver.WithMaxRequestBytes(64<<10)).RegisterRoutes(mux)

	f.Fuzz(func(t *testing.T, path uint8, json, gzipped bool, body []byte) {
		ctype, cenc := "application/x-protobuf", ""
		if json {
			ctype = "application/json"
		}
		if gzipped {
			cenc = "gzip"
		}
		rec := post(mux, fuzzPaths[int(path)%len(fuzzPaths)], ctype, cenc, body)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK {
			decodeStatus(t, rec)
		}
		ctx := context.Background()
		for _, err := range s.FindTraces(ctx, store.TraceQuery{Limit: 3}) {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, err := range s.FindSeries(ctx, store.SeriesQuery{Limit: 3}) {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, err := range s.FindLogs(ctx, store.LogQuery{Limit: 3, Text: "x"}) {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}

type marshaler interface {
	MarshalProto() ([]byte, error)
	MarshalJSON() ([]byte, error)
}
