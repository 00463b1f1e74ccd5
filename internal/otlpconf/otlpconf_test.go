package otlpconf_test

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-dev/loupe/internal/otlpconf"
	"github.com/loupe-dev/loupe/internal/testutil"
)

func TestParsePairs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
	}{
		{"", map[string]string{}},
		{" Authorization = Bearer%20x ,api-key=a%2Cb,, x-empty=", map[string]string{"Authorization": "Bearer x", "api-key": "a,b", "x-empty": ""}},
		{"k=1,k=2", map[string]string{"k": "2"}},
		{"k=a=b", map[string]string{"k": "a=b"}},
	} {
		got, err := otlpconf.ParsePairs(tc.in)
		if err != nil || !maps.Equal(got, tc.want) {
			t.Errorf("ParsePairs(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"s3cret", "=s3cret", "k=%zzs3cret", "a=1,s3cret"} {
		got, err := otlpconf.ParsePairs(bad)
		if err == nil {
			t.Errorf("ParsePairs(%q) = %q, want an error", bad, got)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParsePairs(%q): the error shows the value: %v", bad, err)
		}
	}
}

func TestRedactPairs(t *testing.T) {
	if got, want := otlpconf.RedactPairs("a=1,b=x=y,,c"), "a=<redacted>,b=<redacted>,,<redacted>"; got != want {
		t.Errorf("RedactPairs = %q, want %q", got, want)
	}
}

// TestLoadTLSMutual: the loaded configuration completes a mutual-TLS
// handshake with a server that trusts only the test certificate and
// requires it from the client.
func TestLoadTLSMutual(t *testing.T) {
	c := testutil.SelfSigned(t)
	cfg, err := otlpconf.LoadTLS(otlpconf.TLSFiles{CA: c.CertFile, Cert: c.CertFile, Key: c.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", cfg.MinVersion)
	}
	cfg.ServerName = "127.0.0.1"
	clientConn, serverConn := net.Pipe()
	defer clientConn.Close()
	defer serverConn.Close()
	srv := tls.Server(serverConn, &tls.Config{Certificates: []tls.Certificate{c.TLS}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: c.Pool})
	done := make(chan error, 1)
	go func() { done <- srv.Handshake() }()
	if err := tls.Client(clientConn, cfg).Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if peers := srv.ConnectionState().PeerCertificates; len(peers) != 1 {
		t.Errorf("the server saw %d client certificates, want 1", len(peers))
	}
}

func TestLoadTLSSystemRoots(t *testing.T) {
	cfg, err := otlpconf.LoadTLS(otlpconf.TLSFiles{})
	if err != nil || cfg.RootCAs != nil || len(cfg.Certificates) != 0 {
		t.Errorf("LoadTLS of no files = %+v, %v; want the system roots and no client certificate", cfg, err)
	}
}

func TestLoadTLSErrors(t *testing.T) {
	c := testutil.SelfSigned(t)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	type want struct {
		role otlpconf.Role
		err  error
	}
	for name, tc := range map[string]struct {
		files otlpconf.TLSFiles
		want  []want
	}{
		"CA missing":         {otlpconf.TLSFiles{CA: missing}, []want{{otlpconf.RoleCA, fs.ErrNotExist}}},
		"CA not PEM":         {otlpconf.TLSFiles{CA: notPEM}, []want{{otlpconf.RoleCA, otlpconf.ErrNoCertificate}}},
		"cert without key":   {otlpconf.TLSFiles{Cert: c.CertFile}, []want{{otlpconf.RoleCert, otlpconf.ErrHalfPair}}},
		"key without cert":   {otlpconf.TLSFiles{Key: c.KeyFile}, []want{{otlpconf.RoleKey, otlpconf.ErrHalfPair}}},
		"key not PEM":        {otlpconf.TLSFiles{Cert: c.CertFile, Key: notPEM}, []want{{otlpconf.RoleCert, nil}}},
		"every problem once": {otlpconf.TLSFiles{CA: missing, Key: c.KeyFile}, []want{{otlpconf.RoleCA, fs.ErrNotExist}, {otlpconf.RoleKey, otlpconf.ErrHalfPair}}},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := otlpconf.LoadTLS(tc.files)
			if cfg != nil || err == nil {
				t.Fatalf("LoadTLS = %v, %v; want no configuration and an error", cfg, err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the file's contents: %v", err)
			}
			got := otlpconf.FileErrors(err)
			if len(got) != len(tc.want) {
				t.Fatalf("FileErrors = %v, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if got[i].Role != w.role || (w.err != nil && !errors.Is(got[i], w.err)) {
					t.Errorf("problem %d: %v (role %v), want role %v and %v", i, got[i], got[i].Role, w.role, w.err)
				}
			}
		})
	}
}
