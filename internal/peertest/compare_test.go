package peertest

import (
	"encoding/json"
	"strings"
	"testing"
)

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNormalise(t *testing.T) {
	// The same trace as two servers may give it: spans, tags and references
	// in another order, other process ids, an empty warnings list.
	a := `{"data":[{"traceID":"t1","spans":[
		{"spanID":"b","processID":"p1","tags":[{"key":"x","value":1},{"key":"y","value":2}],"references":[{"refType":"CHILD_OF","spanID":"a"}]},
		{"spanID":"a","processID":"p2","tags":[],"warnings":[]}],
		"processes":{"p1":{"serviceName":"svc1","tags":[]},"p2":{"serviceName":"svc2","tags":[]}}}],"errors":[]}`
	b := `{"data":[{"traceID":"t1","spans":[
		{"spanID":"a","processID":"p1","tags":[],"warnings":null},
		{"spanID":"b","processID":"p2","tags":[{"key":"y","value":2},{"key":"x","value":1}],"references":[{"refType":"CHILD_OF","spanID":"a"}]}],
		"processes":{"p1":{"serviceName":"svc2","tags":[]},"p2":{"serviceName":"svc1","tags":[]}}}],"errors":null}`
	want, got := Canonical(Normalise(decode(t, a))), Canonical(Normalise(decode(t, b)))
	if got != want {
		t.Fatalf("the same trace normalises differently:\n%s", FirstDiff(want, got))
	}
	// A different tag value stays different, and FirstDiff points at it.
	c := strings.Replace(b, `{"key":"x","value":1}`, `{"key":"x","value":3}`, 1)
	other := Canonical(Normalise(decode(t, c)))
	if other == want {
		t.Fatal("a changed tag value normalises to the same answer")
	}
	if d := FirstDiff(want, other); !strings.Contains(d, `"value": 3`) || !strings.Contains(d, `"value": 1`) {
		t.Errorf("FirstDiff does not show the changed value:\n%s", d)
	}
}

func TestSortOTLP(t *testing.T) {
	a := `{"result":{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"2"},{"spanId":"1"}]}]},{"resource":{"attributes":[{"key":"b"},{"key":"a"}]}}]}}`
	b := `{"result":{"resourceSpans":[{"resource":{"attributes":[{"key":"a"},{"key":"b"}]}},{"scopeSpans":[{"spans":[{"spanId":"1"},{"spanId":"2"}]}]}]}}`
	if x, y := Canonical(SortOTLP(decode(t, a))), Canonical(SortOTLP(decode(t, b))); x != y {
		t.Fatalf("the same groups in another order sort differently:\n%s", FirstDiff(x, y))
	}
}

func TestFill(t *testing.T) {
	if got := Fill("a {{X}} b {{X}} {{Y}}", map[string]string{"X": "1", "Y": "2"}); got != "a 1 b 1 2" {
		t.Errorf("Fill = %q", got)
	}
}
