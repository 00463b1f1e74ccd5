// Package golden compares the query APIs' JSON answers with golden files in
// the calling package's testdata/ folder; `go test -update` rewrites them.
// It is imported by tests only.
package golden

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// JSON checks body, indented, against testdata/<name>.json.
func JSON(t testing.TB, name string, body []byte) {
	t.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, bytes.TrimSpace(body), "", "  "); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, body)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("response differs from %s (check it, then go test -update rewrites it):\n%s", path, pretty.Bytes())
	}
}
