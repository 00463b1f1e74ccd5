package loupepgx_test

import (
	"testing"

	"github.com/loupe-dev/loupe/internal/testservers"
)

// env holds the private servers TestMain starts.
var env testservers.Env

func TestMain(m *testing.M) { testservers.Main(m, &env, testservers.PostgresServer) }
