package diskstore_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/loupe-dev/loupe/backend/store/diskstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

func Example() {
	dir, _ := os.MkdirTemp("", "loupe-example")
	defer os.RemoveAll(dir)

	s, err := diskstore.Open(dir, diskstore.WithMaxBytes(64<<20), diskstore.WithRetention(24*time.Hour))
	if err != nil {
		panic(err)
	}
	_, _ = s.WriteTraces(context.Background(), storetest.Traces(
		storetest.SpanSpec{Service: "api", Trace: 1, ID: 1, Name: "GET /", Dur: time.Millisecond},
	))
	_ = s.Close()

	// After a restart, the trace is back.
	s, err = diskstore.Open(dir)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	tr, err := s.Trace(context.Background(), storetest.TID(1))
	fmt.Println(len(tr.Spans), tr.Spans[0].Name, err, s.Recovery().Problems)
	// Output:
	// 1 GET / <nil> []
}
