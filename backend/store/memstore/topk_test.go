package memstore_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

// TestSearchKeepsTheMostRecent checks the bounded selection of FindTraces
// against a full sort, on random start times with many ties.
func TestSearchKeepsTheMostRecent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := memstore.New()
	defer s.Close()
	type tr struct {
		id    store.TraceID
		start time.Duration
	}
	var all []tr
	var specs []storetest.SpanSpec
	for i := 1; i <= 250; i++ {
		start := time.Duration(rng.IntN(40)) * time.Second // ties on purpose
		specs = append(specs, storetest.SpanSpec{Service: "s", Trace: byte(i), ID: 1, Name: "op", Start: start})
		all = append(all, tr{storetest.TID(byte(i)), start})
	}
	if _, err := s.WriteTraces(context.Background(), storetest.Traces(specs...)); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(all, func(a, b tr) int {
		if a.start != b.start {
			return int(b.start - a.start)
		}
		return slices.Compare(a.id[:], b.id[:])
	})
	for _, limit := range []int{1, 2, 7, 100, 249, 250, 1000} {
		var got []store.TraceID
		for tr, err := range s.FindTraces(context.Background(), store.TraceQuery{Limit: limit}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, tr.ID)
		}
		want := make([]store.TraceID, 0, limit)
		for _, x := range all[:min(limit, len(all))] {
			want = append(want, x.id)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d: got %v\nwant %v", limit, got, want)
		}
	}
}

// TestLogSearchKeepsTheNewest checks the bounded selection of FindLogs
// against a full sort: newest time first, then newest arrival, on random
// times with many ties, some records written together and some alone,
// found by a text search and by trace.
func TestLogSearchKeepsTheNewest(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	s := memstore.New()
	defer s.Close()
	type rec struct {
		body string
		at   time.Duration
	}
	var all []rec // arrival order
	for w := range 60 {
		var specs []storetest.LogSpec
		for range 1 + rng.IntN(8) {
			r := rec{fmt.Sprintf("record %d", len(all)), time.Duration(rng.IntN(30)) * time.Second} // ties on purpose
			all = append(all, r)
			specs = append(specs, storetest.LogSpec{Service: "s", Trace: 1, Span: byte(w), At: r.at, Body: r.body})
		}
		if _, err := s.WriteLogs(context.Background(), storetest.Logs(specs...)); err != nil {
			t.Fatal(err)
		}
	}
	want := slices.Clone(all)
	slices.Reverse(want)
	slices.SortStableFunc(want, func(a, b rec) int { return cmp.Compare(b.at, a.at) })
	for _, limit := range []int{1, 2, 7, 100, len(all) - 1, len(all), 1000} {
		for _, q := range []store.LogQuery{{Text: "RECORD", Limit: limit}, {TraceID: storetest.TID(1), Limit: limit}} {
			var got []string
			for r, err := range s.FindLogs(context.Background(), q) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, r.Body.Str())
			}
			var wantBodies []string
			for _, r := range want[:min(limit, len(want))] {
				wantBodies = append(wantBodies, r.body)
			}
			if !slices.Equal(got, wantBodies) {
				t.Fatalf("%+v: got %q\nwant %q", q, got, wantBodies)
			}
		}
	}
}

// TestSearchAcrossBatches checks FindTraces's batch walk (skipping batches
// by service and time, stopping once older batches cannot rank) against a
// brute-force search over every stored trace: starts out of arrival order,
// traces whose spans arrive in several writes (a later span can move the
// trace's start back), and evictions by size.
func TestSearchAcrossBatches(t *testing.T) {
	ctx := context.Background()
	for _, maxBytes := range []int64{1 << 30, 40 << 10} {
		rng := rand.New(rand.NewPCG(3, uint64(maxBytes)))
		s := memstore.New(memstore.WithMaxBytes(maxBytes))
		services, ops := []string{"a", "b", "c"}, []string{"x", "y", "z", "w"}
		nextID := map[byte]byte{}
		for w := range 80 {
			var specs []storetest.SpanSpec
			for range 1 + rng.IntN(12) {
				tr := byte(1 + rng.IntN(120))
				nextID[tr]++
				svc := services[rng.IntN(len(services))]
				if w < 10 && rng.IntN(2) == 0 {
					svc = "old" // a service only the oldest writes have
				}
				// Mostly increasing with the write, with strays far back and ahead.
				start := time.Duration(w*100+rng.IntN(300)-150) * time.Millisecond
				if rng.IntN(15) == 0 {
					start = time.Duration(rng.IntN(10_000)) * time.Millisecond
				}
				specs = append(specs, storetest.SpanSpec{Service: svc, Trace: tr, ID: nextID[tr],
					Name: ops[rng.IntN(len(ops))], Start: start, Dur: time.Duration(1+rng.IntN(50)) * time.Millisecond})
			}
			if _, err := s.WriteTraces(ctx, storetest.Traces(specs...)); err != nil {
				t.Fatal(err)
			}
		}
		var queries []store.TraceQuery
		for _, svc := range append(services, "old", "") {
			for _, op := range append(ops, "") {
				for _, limit := range []int{1, 3, 20, 200} {
					queries = append(queries, store.TraceQuery{Service: svc, Operation: op, Limit: limit})
				}
			}
			queries = append(queries, store.TraceQuery{Service: svc, Limit: 5,
				StartMin: storetest.Base.Add(2 * time.Second), StartMax: storetest.Base.Add(5 * time.Second)})
		}
		for _, q := range queries {
			got := searchIDs(t, s, q)
			want := bruteForce(t, s, q)
			if !slices.Equal(got, want) {
				t.Fatalf("maxBytes %d, %+v:\n got %v\nwant %v", maxBytes, q, got, want)
			}
		}
		if maxBytes < 1<<20 && len(searchIDs(t, s, store.TraceQuery{Service: "old", Limit: 1000})) != 0 {
			t.Error("the small store still has the oldest writes: nothing was evicted, the test proves less")
		}
		_ = s.Close()
	}
}

func searchIDs(t *testing.T, s *memstore.Store, q store.TraceQuery) []store.TraceID {
	t.Helper()
	var ids []store.TraceID
	for tr, err := range s.FindTraces(context.Background(), q) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tr.ID)
	}
	return ids
}

// bruteForce ranks every stored trace having a matching span: latest trace
// start first, then by id.
func bruteForce(t *testing.T, s *memstore.Store, q store.TraceQuery) []store.TraceID {
	t.Helper()
	type hit struct {
		id    store.TraceID
		start int64
	}
	var hits []hit
	for n := 1; n <= 255; n++ {
		tr, err := s.Trace(context.Background(), storetest.TID(byte(n)))
		if err != nil {
			continue
		}
		start, match := tr.Spans[0].Start, false
		for _, sp := range tr.Spans {
			start = min(start, sp.Start)
			match = match || store.MatchSpan(sp, &q)
		}
		if match {
			hits = append(hits, hit{tr.ID, start})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if a.start != b.start {
			return cmp.Compare(b.start, a.start)
		}
		return slices.Compare(a.id[:], b.id[:])
	})
	ids := []store.TraceID{}
	for _, h := range hits[:min(len(hits), q.Limit)] {
		ids = append(ids, h.id)
	}
	return ids
}
