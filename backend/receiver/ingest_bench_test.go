package receiver_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/collector/featuregate"

	"github.com/loupe-dev/loupe/backend/store/storetest"

	"github.com/loupe-dev/loupe/backend/receiver"
	"github.com/loupe-dev/loupe/backend/store/memstore"
)

// benchBatches pre-encodes n requests shaped like backend/peer's load.
func benchBatches(tb testing.TB, n int) [][]byte {
	tb.Helper()
	out, err := storetest.LoadRequests(n, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// BenchmarkHTTPTraces posts pre-encoded 512-span OTLP/protobuf requests to
// the receiver's handler in front of a memstore, without the network: the
// server-side work of one request from headers parsed to answer written.
func BenchmarkHTTPTraces(b *testing.B) {
	for _, pooling := range []bool{false, true} {
		b.Run(fmt.Sprintf("pooling=%v", pooling), func(b *testing.B) {
			defer setPooling(b, pooling)()
			benchHTTPTraces(b)
		})
	}
}

// setPooling sets pdata's pdata.useProtoPooling feature gate, as loupe
// serve does, and returns a function that restores it.
func setPooling(tb testing.TB, on bool) func() {
	g := "pdata.useProtoPooling"
	var was bool
	featuregate.GlobalRegistry().VisitAll(func(fg *featuregate.Gate) {
		if fg.ID() == g {
			was = fg.IsEnabled()
		}
	})
	if err := featuregate.GlobalRegistry().Set(g, on); err != nil {
		tb.Fatal(err)
	}
	return func() { _ = featuregate.GlobalRegistry().Set(g, was) }
}

func benchHTTPTraces(b *testing.B) {
	data := benchBatches(b, 400)
	s := memstore.New(memstore.WithMaxBytes(1 << 30))
	defer s.Close()
	mux := http.NewServeMux()
	receiver.New(s).RegisterRoutes(mux)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(data[i%len(data)]))
		req.Header.Set("Content-Type", "application/x-protobuf")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*512), "ns/span")
}
