// Package store defines the one storage interface of Loupe's local backend
// (`loupe serve`) and the compact data model it returns.
//
// Writers hand the store what the receiver decoded: collector pdata
// ([ptrace.Traces], [plog.Logs], [pmetric.Metrics]). The store converts it once
// into the model of this package ([Span], [LogRecord], [Series]), which holds
// only plain Go values: no pdata or protobuf object stays referenced after a
// write returns, so the size of what is stored can be accounted for
// (see [Converted]) and bounded. Every string is stored as valid UTF-8, each
// byte that is not replaced by U+FFFD (bytes values excepted): the query APIs
// answer in JSON, which has no other text, and the text they show must find
// its telemetry again.
//
// Values returned by a [Reader] are shared with the store and must not be
// modified. Every implementation passes the suite in the storetest package.
package store
