package server

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// tokenOK compares an Authorization header value with "Bearer <token>" in
// constant time.
func tokenOK(header, token string) bool {
	const prefix = "bearer "
	if len(header) < len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(header[len(prefix):]), []byte(token)) == 1
}

// requireToken wraps h so that requests without the bearer token get 401,
// except those exempt reports true for (nil: none). An empty token lets
// everything through.
func requireToken(token string, h http.Handler, exempt func(*http.Request) bool) http.Handler {
	if token == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (exempt == nil || !exempt(r)) && !tokenOK(r.Header.Get("Authorization"), token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="loupe"`)
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// grpcToken is requireToken for gRPC: UNAUTHENTICATED without it. The
// receiver runs it before a call's message is read.
func grpcToken(token string) func(metadata.MD) error {
	return func(md metadata.MD) error {
		for _, v := range md.Get("authorization") {
			if tokenOK(v, token) {
				return nil
			}
		}
		return status.Error(codes.Unauthenticated, "missing or wrong bearer token")
	}
}
