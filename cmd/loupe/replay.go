package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/loupe-dev/loupe/backend/store/diskstore"
)

// replayProgressEvery is how often a replay in progress is logged.
const replayProgressEvery = time.Second

// watchReplay logs the progress of ds's replay, which runs while serve
// already listens, then what it found. A failed replay calls stop, so that
// serve ends. The returned function waits for the watcher and reports
// whether the replay failed. ds may be nil (no data directory).
func watchReplay(ctx context.Context, ds *diskstore.Store, log *slog.Logger, stop func()) (failed func() bool) {
	if ds == nil {
		return func() bool { return false }
	}
	var wg sync.WaitGroup
	var bad bool
	wg.Go(func() {
		t := time.NewTicker(replayProgressEvery)
		defer t.Stop()
		for {
			wctx, cancel := context.WithCancel(ctx)
			go func() {
				select {
				case <-t.C:
				case <-wctx.Done():
				}
				cancel()
			}()
			err := ds.WaitReplay(wctx)
			cancel()
			switch {
			case err == nil:
				r := ds.Recovery()
				log.Info("store replayed", "segments", r.Segments, "records", r.Records, "problems", len(r.Problems), "took", r.Took.Round(time.Millisecond))
				if err := ds.Err(); err != nil {
					log.Error("the store refuses writes", "error", err)
				}
				return
			case ctx.Err() != nil:
				return
			case wctx.Err() != nil && err == wctx.Err():
				done, all := ds.Progress()
				log.Info("replaying the data directory; queries answer what is replayed, writes get 503 until it is done", "MiB", done>>20, "of", all>>20)
			default:
				log.Error("replaying the data directory failed; stopping", "error", err)
				bad = true
				stop()
				return
			}
		}
	})
	return func() bool { wg.Wait(); return bad }
}
