//go:build !linux

package diskstore_test

const fullEnv = "DISKSTORE_TEST_FULL_DIR"

func runFullChild() {}
