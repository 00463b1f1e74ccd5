package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// defaultScope is the scope Traced uses.
var defaultScope = Get("github.com/loupe-dev/loupe/telemetry")

// Traced runs fn in a child span named name, the decorator of the Python
// world. An error returned by fn is recorded on the span and sets its status;
// a panic is recorded the same way and then re-panics.
func Traced[T any](ctx context.Context, name string, fn func(context.Context) (T, error), attrs ...attribute.KeyValue) (T, error) {
	return TracedIn(defaultScope, ctx, name, fn, attrs...)
}

// TracedIn is [Traced] with spans from the given scope.
func TracedIn[T any](s *Scope, ctx context.Context, name string, fn func(context.Context) (T, error), attrs ...attribute.KeyValue) (result T, err error) {
	ctx, span := s.Start(ctx, name, attrs...)
	defer func() {
		if r := recover(); r != nil {
			perr, ok := r.(error)
			if !ok {
				perr = fmt.Errorf("panic: %v", r)
			}
			span.RecordError(perr, trace.WithStackTrace(true), trace.WithAttributes(attribute.Bool("exception.escaped", true)))
			span.SetStatus(codes.Error, perr.Error())
			span.End()
			panic(r)
		}
		End(span, err)
	}()
	return fn(ctx)
}

// Do is [TracedIn] for functions that return only an error.
func (s *Scope) Do(ctx context.Context, name string, fn func(context.Context) error, attrs ...attribute.KeyValue) error {
	_, err := TracedIn(s, ctx, name, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) }, attrs...)
	return err
}

// End ends span, first recording err (when not nil) as an exception event and
// setting the span's status to Error with the error's text.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// TraceID returns the hex trace id of the span in ctx, or "" if none.
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}

// SpanID returns the hex span id of the span in ctx, or "" if none.
func SpanID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasSpanID() {
		return sc.SpanID().String()
	}
	return ""
}
