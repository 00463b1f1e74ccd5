package peer_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"go.opentelemetry.io/collector/featuregate"

	"github.com/loupe-dev/loupe/backend/server"
	"github.com/loupe-dev/loupe/internal/peertest"
	"github.com/loupe-dev/loupe/internal/servertest"
)

const collectorConfig = `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {{OTLP_GRPC}}
exporters:
  otlp_grpc/jaeger:
    endpoint: {{JAEGER}}
    tls:
      insecure: true
  otlp_grpc/loupe:
    endpoint: {{LOUPE_GRPC}}
    tls:
      insecure: true
  otlp_http/loupe:
    endpoint: http://{{LOUPE_HTTP}}
    tls:
      insecure: true
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_grpc/jaeger, otlp_grpc/loupe, otlp_http/loupe]
`

// startLoupe runs the backend in-process with a memory store, OTLP on
// either gRPC or HTTP, and returns the query API's base URL and OTLP address.
func startLoupe(t *testing.T, grpcOTLP bool) (api, otlp string) {
	t.Helper()
	cfg, listener := server.Config{HTTPAddr: "127.0.0.1:0"}, "otlp-http"
	if grpcOTLP {
		cfg.OTLPGRPCAddr, listener = "127.0.0.1:0", "otlp-grpc"
	} else {
		cfg.OTLPHTTPAddr = "127.0.0.1:0"
	}
	srv := servertest.Start(t, cfg)
	return servertest.URL(srv, "http"), srv.Addrs(listener)[0].String()
}

func TestJaegerAPIMatchesJaeger(t *testing.T) {
	collectorBin, genBin := peertest.Binary(t, "otelcol"), peertest.Binary(t, "telemetrygen")
	// As loupe serve runs: the receiver recycles requests through pdata's pools.
	if err := featuregate.GlobalRegistry().Set("pdata.useProtoPooling", true); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = featuregate.GlobalRegistry().Set("pdata.useProtoPooling", false) }()

	// Backends first: the Collector's gRPC reconnect backoff can hold the
	// first batch for minutes if it starts before them.
	jaegerAPI, jotlp := peertest.StartJaeger(t)
	viaGRPC, loupeGRPC := startLoupe(t, true)
	viaHTTP, loupeHTTP := startLoupe(t, false)

	cotlp := peertest.FreeAddr(t)
	peertest.Start(t, "otelcol", collectorBin, nil, "--config", peertest.WriteFile(t, "collector.yaml",
		peertest.Fill(collectorConfig, map[string]string{"OTLP_GRPC": cotlp, "JAEGER": jotlp, "LOUPE_GRPC": loupeGRPC, "LOUPE_HTTP": loupeHTTP})))
	peertest.WaitTCP(t, 60*time.Second, "the Collector's OTLP port", cotlp)

	const service, traces = "peer-test", 12
	gen := exec.Command(genBin, "traces", "--otlp-endpoint", cotlp, "--otlp-insecure", "--rate", "0",
		"--traces", fmt.Sprint(traces), "--child-spans", "3", "--service", service,
		"--telemetry-attributes", `peer.case="compare"`, "--telemetry-attributes", "peer.int=42", "--telemetry-attributes", "peer.bool=true",
		"--otlp-attributes", `deployment.environment.name="peer"`, "--otlp-attributes", "host.cores=2",
		"--status-code", "Error", "--span-links", "1")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("telemetrygen: %v\n%s", err, out)
	}

	search := "/api/traces?service=" + service + "&limit=100&lookback=1h"
	backends := map[string]string{"jaeger": jaegerAPI, "loupe via gRPC": viaGRPC, "loupe via HTTP": viaHTTP}
	for name, base := range backends {
		peertest.WaitFor(t, 60*time.Second, name+" to hold all traces", func() bool {
			code, body, err := peertest.Get(base + search)
			if err != nil || code != http.StatusOK {
				return false
			}
			var resp struct{ Data []map[string]any }
			return json.Unmarshal(body, &resp) == nil && len(resp.Data) == traces && spanCount(resp.Data) == traces*4
		})
	}

	want := answers(t, jaegerAPI, search)
	if len(want) != 4+2*traces {
		t.Fatalf("Jaeger gave %d answers, want services, operations and search, and %d traces in two APIs", len(want), traces)
	}
	t.Logf("comparing %d answers; Jaeger's first trace:\n%s", len(want), peertest.Tail(want["/api/traces/"+firstTraceID(t, want[search])], 1500))
	for _, name := range []string{"loupe via gRPC", "loupe via HTTP"} {
		got := answers(t, backends[name], search)
		for path, w := range want {
			if g := got[path]; g != w {
				t.Errorf("%s answers %s differently from Jaeger:\n%s", name, path, peertest.FirstDiff(w, g))
			}
		}
	}
}

func firstTraceID(t *testing.T, search string) string {
	t.Helper()
	var res struct {
		Data []struct{ TraceID string }
	}
	if err := json.Unmarshal([]byte(search), &res); err != nil || len(res.Data) == 0 {
		t.Fatalf("search answer has no traces: %v", err)
	}
	return res.Data[0].TraceID
}

func spanCount(traces []map[string]any) int {
	n := 0
	for _, tr := range traces {
		spans, _ := tr["spans"].([]any)
		n += len(spans)
	}
	return n
}

// answers fetches /api/services, the search and each trace by id, normalised.
func answers(t *testing.T, base, search string) map[string]string {
	t.Helper()
	out := map[string]string{}
	fetch := func(path string) any {
		code, body, err := peertest.Get(base + path)
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET %s%s: %d %v %s", base, path, code, err, body)
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("GET %s%s: %v", base, path, err)
		}
		return v
	}
	out["/api/services"] = peertest.Canonical(peertest.Normalise(fetch("/api/services")))
	res := peertest.Normalise(fetch(search)).(map[string]any)
	out[search] = peertest.Canonical(res)
	for _, tr := range res["data"].([]any) {
		id := tr.(map[string]any)["traceID"].(string)
		out["/api/traces/"+id] = peertest.Canonical(peertest.Normalise(fetch("/api/traces/" + id)))
		out["/api/v3/traces/"+id] = peertest.Canonical(peertest.SortOTLP(fetch("/api/v3/traces/" + id)))
	}
	out["/api/v3/services"] = peertest.Canonical(peertest.SortOTLP(fetch("/api/v3/services")))
	out["/api/v3/operations?service=peer-test"] = peertest.Canonical(peertest.SortOTLP(fetch("/api/v3/operations?service=peer-test")))
	return out
}
