package prom_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/loupe-dev/loupe/backend/query/prom"
	"github.com/loupe-dev/loupe/backend/store/memstore"
)

// A monotonic counter in unit {request}, sent with delta temporality, is
// queried as a Prometheus counter with a _total suffix.
func Example() {
	clock := func() time.Time { return time.Date(2026, 11, 22, 10, 5, 0, 0, time.UTC) }
	st := memstore.New(memstore.WithClock(clock))
	defer st.Close()

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "api")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("http.requests")
	m.SetUnit("{request}")
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	for i := range 5 { // 60 requests a minute, reported each minute
		p := sum.DataPoints().AppendEmpty()
		p.SetTimestamp(pcommon.NewTimestampFromTime(clock().Add(time.Duration(i-4) * time.Minute)))
		p.SetIntValue(60)
	}
	if _, err := st.WriteMetrics(context.Background(), md); err != nil {
		fmt.Println(err)
		return
	}

	mux := http.NewServeMux()
	prom.New(st, prom.WithClock(clock)).RegisterRoutes(mux)
	rec := httptest.NewRecorder()
	query := url.Values{"query": {`sum(increase(http_requests_total[2m])) by (job)`}}
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/query?"+query.Encode(), nil))
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 200 {"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"api"},"value":[1795341900,"120"]}]}}
}
