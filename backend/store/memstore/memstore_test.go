package memstore_test

import (
	"testing"

	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.RunAll(t, func(t *testing.T, cfg storetest.Config) store.Store {
		opts := []memstore.Option{memstore.WithMaxBytes(cfg.MaxBytes), memstore.WithRetention(cfg.Retention)}
		if cfg.Now != nil {
			opts = append(opts, memstore.WithClock(cfg.Now))
		}
		return memstore.New(opts...)
	})
}
