package testservers

import (
	"net"
	"os"
	"strconv"
	"testing"
)

func TestStartStop(t *testing.T) {
	pg, err := StartPostgres()
	if err != nil {
		if InCI() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	rd, err := StartRedis()
	if err != nil {
		_ = pg.Stop()
		if InCI() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	for _, addr := range []string{rd.Addr, net.JoinHostPort("127.0.0.1", strconv.Itoa(pg.Port))} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Errorf("dial %s: %v", addr, err)
			continue
		}
		_ = c.Close()
	}
	if err := pg.Stop(); err != nil {
		t.Error(err)
	}
	if err := rd.Stop(); err != nil {
		t.Error(err)
	}
	for _, d := range []string{pg.dir, rd.dir} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s not removed", d)
		}
	}
	if c, err := net.Dial("tcp", rd.Addr); err == nil {
		_ = c.Close()
		t.Error("redis still listening after Stop")
	}
}
