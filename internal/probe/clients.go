package probe

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"

	"github.com/loupe-dev/loupe/backend/store/storetest"
)

// ExportMethod is the OTLP/gRPC method of traces.
const ExportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// ExportRaw sends body, an ExportTraceServiceRequest in protobuf, as it is
// to the OTLP/gRPC traces method over cc (up to 32 MiB), and returns the
// answer's message in protobuf.
func ExportRaw(ctx context.Context, cc *grpc.ClientConn, body []byte, opts ...grpc.CallOption) ([]byte, error) {
	var answer rawMsg
	err := cc.Invoke(ctx, ExportMethod, &rawMsg{body}, &answer,
		append([]grpc.CallOption{grpc.ForceCodecV2(rawMsgCodec{}), grpc.MaxCallSendMsgSize(32 << 20)}, opts...)...)
	return answer.b, err
}

// Flood makes n concurrent OTLP/gRPC calls of size bytes each, malformed
// from the first byte and without a token, to addr. It returns how many
// ended with each status code ("OK", "Unauthenticated", …) and the time
// they all took.
func Flood(addr string, n, size int) (map[string]int, time.Duration, error) {
	payload := bytes.Repeat([]byte{0xff}, size)
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, 0, err
	}
	defer cc.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	start := time.Now()
	for range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := ExportRaw(ctx, cc, payload)
			mu.Lock()
			codes[Code(err)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return codes, time.Since(start), nil
}

// Code is the gRPC status code of err ("OK" for nil) as its name.
func Code(err error) string {
	if err == nil {
		return "OK"
	}
	s := err.Error()
	if rest, ok := strings.CutPrefix(s, "rpc error: code = "); ok {
		return strings.SplitN(rest, " ", 2)[0]
	}
	return s
}

// PostOTLP posts body, an OTLP/protobuf export request, to u and wants 200.
func PostOTLP(client *http.Client, u string, body []byte) error {
	resp, err := client.Post(u, "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %d", u, resp.StatusCode)
	}
	return nil
}

// FillService is the service name of FillTraces and FillMetrics.
const FillService = "fill"

// FillTraces sends traces of ten spans of service FillService, 1,000 spans
// a request, to the OTLP/HTTP listener at otlpHTTP (a URL) until bytes of
// OTLP have gone; it returns the bytes sent. Twice a store's size bound
// fills it.
func FillTraces(otlpHTTP string, bytes int64) (int64, error) {
	client := &http.Client{Timeout: time.Minute}
	var sent int64
	base := time.Now().Add(-time.Hour)
	for n := 0; sent < bytes; n++ {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", FillService)
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for i := range 1000 {
			sp := spans.AppendEmpty()
			id := n*1000 + i
			sp.SetTraceID(pcommon.TraceID{0: 1, 8: byte(id >> 24), 9: byte(id >> 16), 10: byte(id >> 8), 11: byte(id / 10)})
			sp.SetSpanID(pcommon.SpanID{0: 1, 4: byte(id >> 24), 5: byte(id >> 16), 6: byte(id >> 8), 7: byte(id)})
			sp.SetName("GET /items/{id}")
			start := base.Add(time.Duration(id) * time.Millisecond)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(3 * time.Millisecond)))
			sp.Attributes().PutStr("http.route", "/items/{id}")
			sp.Attributes().PutInt("http.response.status_code", 200)
			sp.Attributes().PutStr("note", strings.Repeat("x", 64))
		}
		body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			return sent, err
		}
		if err := PostOTLP(client, otlpHTTP+"/v1/traces", body); err != nil {
			return sent, err
		}
		sent += int64(len(body))
	}
	return sent, nil
}

// FillMetrics sends hours of 20 gauge series named fill_gauge, a point
// every 10 s, to the OTLP/HTTP listener at otlpHTTP (a URL), and returns
// the time of the last point.
func FillMetrics(otlpHTTP string, hours int) (time.Time, error) {
	client := &http.Client{Timeout: time.Minute}
	now := time.Now().Truncate(time.Minute)
	start := now.Add(-time.Duration(hours) * time.Hour)
	const perRequest = 360 // an hour of points per series
	for h := range hours {
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", FillService)
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("fill_gauge")
		pts := m.SetEmptyGauge().DataPoints()
		for s := range 20 {
			for i := range perRequest {
				pt := pts.AppendEmpty()
				pt.Attributes().PutInt("series", int64(s))
				pt.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(h*perRequest+i) * 10 * time.Second)))
				pt.SetDoubleValue(float64(i))
			}
		}
		body, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
		if err != nil {
			return now, err
		}
		if err := PostOTLP(client, otlpHTTP+"/v1/metrics", body); err != nil {
			return now, err
		}
	}
	return now, nil
}

// Trickle holds an OTLP/HTTP request to addr whose body (1,000 bytes
// declared) arrives at one byte a second, until stop is closed, the server
// answers or closes, or a minute has passed.
func Trickle(addr string, stop <-chan struct{}) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	fmt.Fprintf(c, "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n")
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for range 60 {
		select {
		case <-stop:
			return nil
		case <-tick.C:
			if _, err := c.Write([]byte{0x0a}); err != nil {
				return nil
			}
		}
	}
	return nil
}

// MeanLatency exports n small trace requests over OTLP/HTTP to otlpHTTP
// (a URL) and n over OTLP/gRPC to otlpGRPC (an address), one at a time,
// and returns the mean time of an answer over each: a single request held
// for seconds shows in it.
func MeanLatency(otlpHTTP, otlpGRPC string, n int) (httpMean, grpcMean time.Duration, err error) {
	body, err := ptraceotlp.NewExportRequestFromTraces(storetest.Traces(
		storetest.SpanSpec{Service: "api", Trace: 1, ID: 1, Name: "GET /", Dur: time.Millisecond})).MarshalProto()
	if err != nil {
		return 0, 0, err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	cc, err := grpc.NewClient(otlpGRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return 0, 0, err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var hs, gs time.Duration
	for range n {
		start := time.Now()
		if err := PostOTLP(client, otlpHTTP+"/v1/traces", body); err != nil {
			return 0, 0, fmt.Errorf("OTLP/HTTP: %w", err)
		}
		hs += time.Since(start)
		start = time.Now()
		if _, err := ExportRaw(ctx, cc, body); err != nil {
			return 0, 0, fmt.Errorf("OTLP/gRPC: %w", err)
		}
		gs += time.Since(start)
	}
	return hs / time.Duration(n), gs / time.Duration(n), nil
}

// rawMsg is a gRPC message sent as it is.
type rawMsg struct{ b []byte }

type rawMsgCodec struct{}

func (rawMsgCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.(*rawMsg).b)}, nil
}

func (rawMsgCodec) Unmarshal(data mem.BufferSlice, v any) error {
	v.(*rawMsg).b = data.Materialize()
	return nil
}

func (rawMsgCodec) Name() string { return "proto" }
