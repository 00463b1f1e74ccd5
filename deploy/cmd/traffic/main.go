// Command traffic sends the demo platform's traffic — the realistic mix
// and the scheduled failures of `loupe demo` (examples/demo.Traffic) — to a
// gateway that runs elsewhere, as in deploy/compose and deploy/k8s where each
// service is a container of its own. It runs until SIGINT or SIGTERM and
// prints requests/s and p50/p99 per endpoint every 5 s.
//
// Variables: GATEWAY_URL (default http://127.0.0.1:8080), TRAFFIC_RATE
// (requests per second, default 5), TRAFFIC_FAILURES (false leaves the
// scheduled failures out; default true).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/loupe-dev/loupe/examples/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "traffic:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	tr, err := config(getenv)
	if err != nil {
		return err
	}
	tr.Report = stdout
	fmt.Fprintf(stdout, "traffic: %.1f requests/s to %s (failures: %t)\n", tr.Rate, tr.GatewayURL, !tr.NoFailures)
	sum := tr.Run(ctx)
	for endpoint, codes := range sum.Requests {
		fmt.Fprintf(stdout, "traffic: %s %v\n", endpoint, codes)
	}
	return nil
}

func config(getenv func(string) string) (*demo.Traffic, error) {
	tr := &demo.Traffic{GatewayURL: "http://127.0.0.1:8080", Rate: 5}
	if v := getenv("GATEWAY_URL"); v != "" {
		tr.GatewayURL = v
	}
	if v := getenv("TRAFFIC_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("TRAFFIC_RATE=%q: want a number of requests per second above 0", v)
		}
		tr.Rate = r
	}
	if v := getenv("TRAFFIC_FAILURES"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("TRAFFIC_FAILURES=%q: want true or false", v)
		}
		tr.NoFailures = !on
	}
	return tr, nil
}
