package memstore_test

import (
	"context"
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
