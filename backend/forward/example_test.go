package forward_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/loupe-dev/loupe/backend/forward"
	"github.com/loupe-dev/loupe/backend/server"
	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

// A Forwarder sends OTLP/HTTP to another backend, here one on loopback.
// Wrapped around a store, as `loupe serve --forward` does, it forwards
// every write; Shutdown sends what is still queued.
func Example() {
	target := memstore.New()
	defer target.Close()
	srv, err := server.Start(context.Background(), server.Config{OTLPHTTPAddr: "127.0.0.1:0", Store: target,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())

	fw, err := forward.New("http://"+srv.Addrs("otlp-http")[0].String(), forward.WithProtocol(forward.ProtocolHTTPProtobuf),
		forward.WithHeaders(map[string]string{"x-team": "checkout"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	local := memstore.New()
	defer local.Close()
	st := forward.Wrap(local, fw)
	_, _ = st.WriteTraces(context.Background(), storetest.Traces(
		storetest.SpanSpec{Service: "web", Trace: 1, ID: 1, Name: "GET /", Dur: time.Millisecond}))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fw.Shutdown(ctx); err != nil {
		fmt.Println(err)
	}
	tr, err := target.Trace(context.Background(), storetest.TID(1))
	fmt.Printf("%+v; the target holds %d span (%v)\n", fw.Stats(), len(tr.Spans), err)
	// Output: {Sent:1 Dropped:0 Failed:0 DroppedItems:0}; the target holds 1 span (<nil>)
}
