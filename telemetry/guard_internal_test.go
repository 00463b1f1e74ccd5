package telemetry

import (
	"errors"
	"strings"
	"testing"
)

// The errors net/http and grpc-go give when the protocol does not match the
// port, as they print them (net/http's are taken from a client posting to a
// server that speaks HTTP/2 first: 189 and 11 of 200 posts).
func TestPortHint(t *testing.T) {
	for _, tc := range []struct{ err, want string }{
		{`Post "http://127.0.0.1:4317/v1/traces": net/http: HTTP/1.x transport connection broken: malformed HTTP response "\x00\x00\x06\x04\x00\x00\x00\x00\x00"`, "looks like a gRPC port"},
		{`Post "http://127.0.0.1:4317/v1/traces": readLoopPeekFailLocked: %!w(<nil>)`, "looks like a gRPC port"},
		{`rpc error: code = Unavailable desc = connection error: desc = "error reading server preface: http2: failed reading the frame payload"`, "looks like an HTTP port"},
		{`Post "http://127.0.0.1:4318/v1/traces": readLoopPeekFailLocked: read tcp 127.0.0.1:1->127.0.0.1:4318: read: connection reset by peer`, ""},
		{`Post "http://127.0.0.1:4318/v1/traces": dial tcp 127.0.0.1:4318: connect: connection refused`, ""},
	} {
		got := portHint(errors.New(tc.err))
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("portHint(%s) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
