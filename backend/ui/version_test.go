package ui

import (
	"strings"
	"testing"
	"testing/fstest"
)

// The version follows every file's content, and the page names it.
func TestLoadVersion(t *testing.T) {
	files := func(app string) fstest.MapFS {
		return fstest.MapFS{
			"index.html": {Data: []byte(`<script type="module" src="/ui/js/app.js"></script>`)},
			"js/app.js":  {Data: []byte(app)},
		}
	}
	a, va, err := load(files("one"))
	if err != nil {
		t.Fatal(err)
	}
	_, vb, err := load(files("two"))
	if err != nil {
		t.Fatal(err)
	}
	if va == vb {
		t.Errorf("the same version %s for two contents of app.js", va)
	}
	if want := `src="/ui/` + va + `/js/app.js"`; !strings.Contains(string(a["index.html"].body), want) {
		t.Errorf("index.html %q lacks %s", a["index.html"].body, want)
	}
	if a["js/app.js"].etag == "" || a["index.html"].etag == "" {
		t.Error("a file without an ETag")
	}
}
