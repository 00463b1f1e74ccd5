// Command healthcheck is the container health check of images that have no
// shell, curl or wget (the loupe image is FROM scratch, and so are the
// Collector's): it exits 0 when every URL given answers 2xx within the
// timeout, 1 when one does not, 2 on a usage error.
//
//	healthcheck [-timeout 2s] http://127.0.0.1:8080/health [URL...]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 2*time.Second, "time allowed for each URL")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: healthcheck [-timeout 2s] URL [URL...]")
		return 2
	}
	client := &http.Client{Timeout: *timeout}
	for _, u := range fs.Args() {
		if err := check(client, u); err != nil {
			fmt.Fprintf(stderr, "healthcheck: %s: %v\n", u, err)
			return 1
		}
	}
	return 0
}

func check(client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}
