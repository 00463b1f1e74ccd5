//go:build !unix

package diskstore_test

const childEnv = "DISKSTORE_TEST_CHILD_DIR"

func runChild() {}
