// Package otlpconf reads the formats of the OTLP exporter configuration
// that the facade (telemetry), the backend's forwarder (backend/forward) and
// the loupe command share: the key=value lists of OTEL_EXPORTER_OTLP_HEADERS
// and OTEL_RESOURCE_ATTRIBUTES, and the PEM files of a TLS client.
//
// It imports the standard library only, so the facade's resolver, which
// must not depend on what an SDK reads, can use it. Errors never show a
// header value or a file's contents: callers print them.
package otlpconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// ParsePairs reads comma-separated key=value pairs, the format of
// OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES: values are
// percent-decoded, spaces around keys and values trimmed, empty members
// skipped, keys kept as written (a later pair of the same key wins). An
// error names the pair by position and key, never by value.
func ParsePairs(s string) (map[string]string, error) {
	out := map[string]string{}
	for i, pair := range strings.Split(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" { // the member may be a value written alone: not shown
			return nil, fmt.Errorf("member %d is not key=value", i+1)
		}
		dec, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("bad percent-encoding in the value of %q", k)
		}
		out[k] = dec
	}
	return out, nil
}

// RedactPairs keeps the keys of a pair list and hides the values, which
// often carry credentials: "a=1,b=2" becomes "a=<redacted>,b=<redacted>".
// A member without "=", perhaps a value written alone, is hidden whole.
func RedactPairs(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if k, _, ok := strings.Cut(p, "="); ok {
			parts[i] = k + "=<redacted>"
		} else if strings.TrimSpace(p) != "" {
			parts[i] = "<redacted>"
		}
	}
	return strings.Join(parts, ",")
}

// TLSFiles names the PEM files of a TLS client. An empty CA means the
// system's roots; Cert and Key, a client certificate for mutual TLS, go
// together.
type TLSFiles struct {
	CA, Cert, Key string
}

// Role is the part a file plays in [TLSFiles].
type Role int

const (
	RoleCA   Role = iota // the CA certificates
	RoleCert             // the client certificate
	RoleKey              // the client certificate's key
)

func (r Role) String() string {
	switch r {
	case RoleCA:
		return "CA certificates"
	case RoleCert:
		return "client certificate"
	case RoleKey:
		return "client key"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// ErrNoCertificate is a CA file that holds no PEM certificate.
var ErrNoCertificate = errors.New("no PEM certificate found in the file")

// ErrHalfPair is a client certificate without its key, or a key without
// its certificate.
var ErrHalfPair = errors.New("a client certificate and its key go together: give both or neither")

// FileError is one problem of [LoadTLS], with the role of the file at fault
// so that a caller can name its own variable or flag.
type FileError struct {
	Role Role
	Path string // the file, as given
	Err  error  // ErrNoCertificate, ErrHalfPair, or what reading or parsing said
}

func (e *FileError) Error() string { return e.Role.String() + " " + e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// LoadTLS reads the files into a client configuration that requires TLS 1.2
// or later. It reports every problem at once: the error is nil or joins one
// *FileError per file at fault (see [FileErrors]), and the configuration is
// nil whenever the error is not.
func LoadTLS(f TLSFiles) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	var errs []error
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			errs = append(errs, &FileError{RoleCA, f.CA, err})
		case !pool.AppendCertsFromPEM(pem):
			errs = append(errs, &FileError{RoleCA, f.CA, ErrNoCertificate})
		}
		cfg.RootCAs = pool
	}
	switch {
	case f.Cert != "" && f.Key == "":
		errs = append(errs, &FileError{RoleCert, f.Cert, ErrHalfPair})
	case f.Cert == "" && f.Key != "":
		errs = append(errs, &FileError{RoleKey, f.Key, ErrHalfPair})
	case f.Cert != "":
		pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			errs = append(errs, &FileError{RoleCert, f.Cert, err})
			break
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// FileErrors returns the problems an error of [LoadTLS] holds, in the order
// CA, then client certificate or key.
func FileErrors(err error) []*FileError {
	var out []*FileError
	var walk func(error)
	walk = func(err error) {
		if fe, ok := err.(*FileError); ok {
			out = append(out, fe)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}
