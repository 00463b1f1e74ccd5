// Command loupe is Loupe's command line. `loupe serve` runs the local
// backend: OTLP in (gRPC and HTTP), a bounded store, the Jaeger query API.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}
