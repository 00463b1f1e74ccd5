package memstore_test

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

func Example() {
	s := memstore.New(memstore.WithMaxBytes(64<<20), memstore.WithRetention(time.Hour))
	defer s.Close()

	ctx := context.Background()
	_, _ = s.WriteTraces(ctx, storetest.Traces(
		storetest.SpanSpec{Service: "api", Trace: 1, ID: 1, Name: "GET /", Kind: ptrace.SpanKindServer, Dur: 20 * time.Millisecond},
		storetest.SpanSpec{Service: "db", Trace: 1, ID: 2, Parent: 1, Name: "SELECT", Kind: ptrace.SpanKindClient, Dur: 5 * time.Millisecond},
	))
	for tr, err := range s.FindTraces(ctx, store.TraceQuery{Service: "db"}) {
		if err != nil {
			panic(err)
		}
		for _, sp := range tr.Spans {
			fmt.Println(sp.Resource.ServiceName, sp.Name, sp.Duration())
		}
	}
	// Output:
	// api GET / 20ms
	// db SELECT 5ms
}
