// Package storetest is the test suite that every [store.Store]
// implementation passes. An implementation's test calls [RunAll] with a
// constructor:
//
//	func TestStore(t *testing.T) {
//		storetest.RunAll(t, func(t *testing.T, cfg storetest.Config) store.Store {
//			return mystore.New(cfg.MaxBytes, cfg.Retention, cfg.Now)
//		})
//	}
//
// The package also has builders of OTLP test data ([Traces], [Logs],
// [Metrics]) that other backend tests share.
package storetest
