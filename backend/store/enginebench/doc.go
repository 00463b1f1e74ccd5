// Package enginebench compares storage engines for the persistent path of
// `loupe serve` (backend/store/diskstore): diskstore's own segment files
// against bbolt and Pebble, each storing the OTLP requests as received and
// reading them back at restart. It is a module of its own so that the
// engines it measures never enter Loupe's dependency graph.
//
//	cd backend/store/enginebench && go test -run XXX -bench . -benchtime=1x
package enginebench
