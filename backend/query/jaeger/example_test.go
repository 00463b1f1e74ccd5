package jaeger_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/backend/query/jaeger"
	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

func Example() {
	s := memstore.New()
	defer s.Close()
	_, _ = s.WriteTraces(context.Background(), storetest.Traces(
		storetest.SpanSpec{Service: "api", Trace: 1, ID: 1, Name: "GET /", Kind: ptrace.SpanKindServer, Dur: time.Millisecond},
	))

	mux := http.NewServeMux()
	jaeger.New(s).RegisterRoutes(mux)

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/services", nil))
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 200 {"data":["api"],"total":1,"limit":0,"offset":0,"errors":null}
}
