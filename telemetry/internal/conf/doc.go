// Package conf resolves the facade's configuration: code options, the
// OpenTelemetry environment variables, Loupe's aliases and the defaults
// become one typed [Config], with the source of every value, every warning
// and every invalid value at once.
//
// It is the only reader of the environment. It imports no OpenTelemetry
// package (a test checks it), so that what it resolves cannot depend on what
// an SDK version reads: the facade applies each resolved value to each
// exporter explicitly, and `loupe doctor` checks the same [Config].
//
// It is internal because its shape follows the specification's next
// variable; the public view is telemetry.EffectiveConfig.
package conf
