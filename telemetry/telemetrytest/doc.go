// Package telemetrytest sets Loupe's telemetry up in memory for tests: a
// span recorder, a manual metric reader and a log recorder, all plugged into
// the real OpenTelemetry SDK through telemetry.Setup, never a mock of it.
//
//	func TestCheckout(t *testing.T) {
//		tel := telemetrytest.New(t)
//		checkout(context.Background())
//		span := tel.Span("checkout")
//		...
//	}
package telemetrytest
