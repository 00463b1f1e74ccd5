package genai

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Instrumenter starts GenAI spans and records GenAI metrics. It is safe for
// concurrent use; create one per service (or per provider client) and reuse it.
type Instrumenter struct {
	tracer         trace.Tracer
	client         instruments // gen_ai.client.*: model calls, agents and tools
	server         instruments // gen_ai.server.*: served model calls
	captureContent bool
}

// instruments are the histograms a call records into. A [Call] points to
// one set, so that one code path, Chunk and End, serves both.
type instruments struct {
	duration metric.Float64Histogram
	tokens   metric.Int64Histogram   // nil: none (the conventions define no server token metric)
	first    metric.Float64Histogram // time to the first chunk or token
	next     metric.Float64Histogram // time per output chunk or token after the first
	// perCall: first and next are measured once per successful call, by
	// End, as the conventions define the server metrics, rather than by
	// Chunk as each chunk arrives.
	perCall bool
}

// New returns an Instrumenter. Defaults: the global tracer and meter
// providers (read now), content capture off.
func New(opts ...Option) *Instrumenter {
	c := newConfig(opts)
	meter := c.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	tokens, err := meter.Int64Histogram(TokenUsageMetric,
		metric.WithUnit("{token}"), metric.WithDescription("Number of input and output tokens used."),
		metric.WithExplicitBucketBoundaries(tokenUsageBuckets...))
	if err != nil {
		otel.Handle(err)
	}
	return &Instrumenter{
		tracer: c.tracerProvider.Tracer(ScopeName, trace.WithInstrumentationVersion(Version)),
		client: instruments{
			duration: seconds(meter, OperationDurationMetric, "GenAI operation duration.", durationBuckets),
			first:    seconds(meter, TimeToFirstChunkMetric, "Time to receive the first chunk of a streamed response.", durationBuckets),
			next:     seconds(meter, TimePerOutputChunkMetric, "Time between consecutive chunks of a streamed response.", durationBuckets),
			tokens:   tokens,
		},
		server: instruments{
			duration: seconds(meter, ServerRequestDurationMetric,
				"Generative AI server request duration such as time-to-last byte or last output token.", durationBuckets),
			first: seconds(meter, ServerTimeToFirstTokenMetric,
				"Time to generate first token for successful responses.", timeToFirstTokenBuckets),
			next: seconds(meter, ServerTimePerOutputTokenMetric,
				"Time per output token generated after the first token for successful responses.", timePerOutputTokenBuckets),
			perCall: true,
		},
		captureContent: c.captureContent,
	}
}

// seconds creates a histogram of durations in seconds.
func seconds(meter metric.Meter, name, description string, buckets []float64) metric.Float64Histogram {
	h, err := meter.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(description),
		metric.WithExplicitBucketBoundaries(buckets...))
	if err != nil {
		otel.Handle(err)
	}
	return h
}

// Message is one message of a conversation. Its content is recorded only
// with content capture on.
type Message struct {
	Role    string // "system", "user", "assistant", "tool"
	Content string
}

// Chat describes a model call.
type Chat struct {
	Provider       string // gen_ai.provider.name, such as "openai" or "anthropic"
	Model          string // gen_ai.request.model; the span is "chat {Model}"
	ServerAddress  string // server.address of the model endpoint, if known
	ServerPort     int    // server.port, if known
	ConversationID string
	MaxTokens      int       // 0: not set
	Temperature    *float64  // nil: not set
	TopP           *float64  // nil: not set
	Stream         bool      // gen_ai.request.stream; see [Call.Chunk]
	Instructions   string    // system instructions; content
	Messages       []Message // input messages; content
	// MetricAttributes are added to every measurement of the call and set
	// on its span; see [Agent].MetricAttributes.
	MetricAttributes []attribute.KeyValue
}

// Agent describes an agent invocation.
type Agent struct {
	Name           string // gen_ai.agent.name; the span is "invoke_agent {Name}"
	ID             string
	Description    string
	Provider       string // gen_ai.provider.name, if the agent runs on one
	Model          string // gen_ai.request.model, if known
	ConversationID string
	// Remote marks an agent reached over the network (span kind Client);
	// an agent in this process gets kind Internal.
	Remote   bool
	Messages []Message // input messages; content
	// MetricAttributes are added to every measurement of the invocation
	// and set on its span: attributes of your own, such as a project, or
	// gen_ai.agent.name, which the metrics otherwise leave out. Each
	// distinct set of values is a metric series of its own, so keep them
	// bounded: names from your code, never user input, request or
	// conversation IDs. A key the call sets itself (gen_ai.operation.name,
	// gen_ai.provider.name, gen_ai.request.model, gen_ai.response.model,
	// server.address, server.port, error.type, gen_ai.token.type) keeps the
	// call's value.
	MetricAttributes []attribute.KeyValue
}

// Tool describes a tool execution.
type Tool struct {
	Name        string // gen_ai.tool.name; the span is "execute_tool {Name}"
	CallID      string // gen_ai.tool.call.id the model gave the call
	Description string
	Type        string // gen_ai.tool.type: "function", "extension" or "datastore"
	Arguments   any    // recorded as JSON with content capture on
	// MetricAttributes are added to every measurement of the execution and
	// set on its span; see [Agent].MetricAttributes.
	MetricAttributes []attribute.KeyValue
}

// Response is the outcome of a model call or agent invocation. Zero fields
// are not recorded.
type Response struct {
	ID            string
	Model         string // gen_ai.response.model
	FinishReasons []string
	// InputTokens and OutputTokens are the usage the provider reports
	// (billable tokens when it reports both); recorded when HasUsage.
	InputTokens, OutputTokens int64
	HasUsage                  bool
	Messages                  []Message // output messages; content
}

// Call is an operation in progress. End it exactly once.
type Call struct {
	in          *Instrumenter
	metrics     *instruments
	span        trace.Span
	start       time.Time
	metricAttrs []attribute.KeyValue
	resp        Response
	toolResult  any
	hasResult   bool
	op          string
	stream      bool // the span already says gen_ai.request.stream
	ended       atomic.Bool
	chunks      chunks
}

// chunks is the state of a streamed response. Times are nanoseconds since
// Call.start plus one, so that zero means "no chunk yet".
type chunks struct {
	first atomic.Int64 // the first chunk
	last  atomic.Int64 // the latest chunk
	count atomic.Int64 // the chunks so far; counted for instruments.perCall only
	once  sync.Once    // builds ctx and opts at the first chunk
	ctx   context.Context
	opts  []metric.RecordOption // a slice built once: Record(ctx, v, opt) would allocate one per call
}

// StartChat starts a model call: a span "chat {model}" of kind Client, child
// of ctx's span.
func (in *Instrumenter) StartChat(ctx context.Context, c Chat) (context.Context, *Call) {
	return in.startChat(ctx, c, &in.client, trace.SpanKindClient)
}

// StartServe starts serving a model call, for code that runs a model (or
// stands in for one) rather than calls it: a span "chat {model}" of kind
// Internal, child of ctx's span, which is the server span of the HTTP or
// gRPC middleware that received the request. c describes the request as
// received; Provider names the API the server offers (gen_ai.provider.name,
// which the server metrics require), and ServerAddress and ServerPort, if
// set, the server's own address.
//
// The call's metrics are the model server's: End records
// gen_ai.server.request.duration (seconds, error.type on failure) and, for a
// successful call that had chunks, gen_ai.server.time_to_first_token and
// gen_ai.server.time_per_output_token (see [Call.Chunk]), each with the
// buckets the conventions advise. The conventions define no server token
// metric: the usage of [Call.SetResponse] goes on the span only. The span
// gets neither gen_ai.response.time_to_first_chunk nor an inferred
// gen_ai.request.stream, which describe the client's side.
func (in *Instrumenter) StartServe(ctx context.Context, c Chat) (context.Context, *Call) {
	return in.startChat(ctx, c, &in.server, trace.SpanKindInternal)
}

func (in *Instrumenter) startChat(ctx context.Context, c Chat, metrics *instruments, kind trace.SpanKind) (context.Context, *Call) {
	attrs := metricBase(c.MetricAttributes, OperationChat)
	if c.Provider != "" {
		attrs = append(attrs, ProviderNameKey.String(c.Provider))
	}
	if c.Model != "" {
		attrs = append(attrs, RequestModelKey.String(c.Model))
	}
	if c.ServerAddress != "" {
		attrs = append(attrs, semconv.ServerAddress(c.ServerAddress))
		if c.ServerPort > 0 {
			attrs = append(attrs, semconv.ServerPort(c.ServerPort))
		}
	}
	metricAttrs := attrs
	attrs = append(attrs[:len(attrs):len(attrs)], requestAttrs(c)...)
	if c.ConversationID != "" {
		attrs = append(attrs, ConversationIDKey.String(c.ConversationID))
	}
	if in.captureContent {
		if c.Instructions != "" {
			attrs = append(attrs, SystemInstructionsKey.String(instructionsJSON(c.Instructions)))
		}
		if len(c.Messages) > 0 {
			attrs = append(attrs, InputMessagesKey.String(messagesJSON(c.Messages, nil)))
		}
	}
	ctx, call := in.start(ctx, metrics, OperationChat, spanName(OperationChat, c.Model), kind, attrs, metricAttrs)
	call.stream = c.Stream
	return ctx, call
}

func requestAttrs(c Chat) []attribute.KeyValue {
	var attrs []attribute.KeyValue
	if c.MaxTokens > 0 {
		attrs = append(attrs, RequestMaxTokensKey.Int(c.MaxTokens))
	}
	if c.Temperature != nil {
		attrs = append(attrs, RequestTemperatureKey.Float64(*c.Temperature))
	}
	if c.TopP != nil {
		attrs = append(attrs, RequestTopPKey.Float64(*c.TopP))
	}
	if c.Stream {
		attrs = append(attrs, RequestStreamKey.Bool(true))
	}
	return attrs
}

// StartAgent starts an agent invocation: a span "invoke_agent {name}", kind
// Client for a remote agent and Internal otherwise. gen_ai.agent.name is on
// the span only; to break the metrics down by agent, add it to
// [Agent].MetricAttributes.
func (in *Instrumenter) StartAgent(ctx context.Context, a Agent) (context.Context, *Call) {
	attrs := metricBase(a.MetricAttributes, OperationInvokeAgent)
	if a.Provider != "" {
		attrs = append(attrs, ProviderNameKey.String(a.Provider))
	}
	if a.Model != "" {
		attrs = append(attrs, RequestModelKey.String(a.Model))
	}
	metricAttrs := attrs
	attrs = attrs[:len(attrs):len(attrs)]
	if a.Name != "" {
		attrs = append(attrs, AgentNameKey.String(a.Name))
	}
	if a.ID != "" {
		attrs = append(attrs, AgentIDKey.String(a.ID))
	}
	if a.Description != "" {
		attrs = append(attrs, AgentDescriptionKey.String(a.Description))
	}
	if a.ConversationID != "" {
		attrs = append(attrs, ConversationIDKey.String(a.ConversationID))
	}
	if in.captureContent && len(a.Messages) > 0 {
		attrs = append(attrs, InputMessagesKey.String(messagesJSON(a.Messages, nil)))
	}
	kind := trace.SpanKindInternal
	if a.Remote {
		kind = trace.SpanKindClient
	}
	return in.start(ctx, &in.client, OperationInvokeAgent, spanName(OperationInvokeAgent, a.Name), kind, attrs, metricAttrs)
}

// StartTool starts a tool execution: a span "execute_tool {name}" of kind
// Internal.
func (in *Instrumenter) StartTool(ctx context.Context, t Tool) (context.Context, *Call) {
	attrs := metricBase(t.MetricAttributes, OperationExecuteTool)
	metricAttrs := attrs
	attrs = attrs[:len(attrs):len(attrs)]
	if t.Name != "" {
		attrs = append(attrs, ToolNameKey.String(t.Name))
	}
	if t.CallID != "" {
		attrs = append(attrs, ToolCallIDKey.String(t.CallID))
	}
	if t.Description != "" {
		attrs = append(attrs, ToolDescriptionKey.String(t.Description))
	}
	if t.Type != "" {
		attrs = append(attrs, ToolTypeKey.String(t.Type))
	}
	if in.captureContent && t.Arguments != nil {
		attrs = append(attrs, ToolCallArgumentsKey.String(toJSON(t.Arguments)))
	}
	return in.start(ctx, &in.client, OperationExecuteTool, spanName(OperationExecuteTool, t.Name), trace.SpanKindInternal, attrs, metricAttrs)
}

// metricBase starts the attributes of a call's measurements: the caller's
// own first, so that the call's attributes, appended after them, win on a
// shared key (the last of a key wins in an attribute.Set and on a span). The
// caller's slice is copied, never appended to.
func metricBase(own []attribute.KeyValue, op string) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, len(own)+5) // 5: operation, provider, request model, server address and port
	attrs = append(attrs, own...)
	return append(attrs, OperationNameKey.String(op))
}

func spanName(op, subject string) string {
	if subject == "" {
		return op
	}
	return op + " " + subject
}

func (in *Instrumenter) start(ctx context.Context, metrics *instruments, op, name string, kind trace.SpanKind, attrs, metricAttrs []attribute.KeyValue) (context.Context, *Call) {
	now := time.Now()
	ctx, span := in.tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...), trace.WithTimestamp(now))
	return ctx, &Call{in: in, metrics: metrics, span: span, start: now, metricAttrs: metricAttrs, op: op}
}

// Span returns the call's span, to add attributes or events of your own.
func (c *Call) Span() trace.Span { return c.span }

// SetResponse records the response of a model call or agent invocation; call
// it before End.
func (c *Call) SetResponse(r Response) { c.resp = r }

// SetToolResult records a tool's result, as JSON, when content capture is on;
// call it before End.
func (c *Call) SetToolResult(result any) { c.toolResult, c.hasResult = result, true }

// Chunk marks one chunk of a streamed response. On a call from
// [Instrumenter.StartChat], call it as each chunk is received, before
// processing it; on a call from [Instrumenter.StartServe], as each output
// token is generated (or each chunk of several, with the token count in the
// usage of [Call.SetResponse]).
//
// On a client call, the first Chunk records
// gen_ai.client.operation.time_to_first_chunk (the time since the call
// started) and each later one gen_ai.client.operation.time_per_output_chunk
// (the time since the previous chunk), both in seconds, with the attributes
// of gen_ai.client.operation.duration known when the request was made
// (gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model,
// server.address, server.port and the MetricAttributes).
// gen_ai.response.model is left out: a stream usually reports it only at its
// end, after the measurements. End adds gen_ai.response.time_to_first_chunk
// to the span and, when the call was not started with [Chat].Stream,
// gen_ai.request.stream: a call that delivers chunks is a streaming call. A
// call without Chunk records neither metric, as the conventions ask for
// non-streaming calls.
//
// On a served call, Chunk only takes the time. The conventions define the
// server's time to first token and time per output token per request, for
// successful responses, so End records them once each, when it gets no
// error: gen_ai.server.time_to_first_token, the time from the start of the
// call to the first chunk, and gen_ai.server.time_per_output_token, the rest
// of the request's duration divided by the output tokens after the first
// (the response's OutputTokens when it has usage, else the chunks), when
// there are any. Both carry the request duration's attributes,
// gen_ai.response.model included. A served call without Chunk records
// neither.
//
// Chunk does not allocate after its first call. It is safe for concurrent
// use, with itself and with End; concurrent calls are timed in the order
// they take effect, and an interval is never negative. Calls after End are
// ignored.
func (c *Call) Chunk() {
	if c.ended.Load() {
		return
	}
	now := int64(time.Since(c.start)) + 1
	ch := &c.chunks
	prev := ch.last.Swap(now)
	if prev == 0 {
		ch.first.Store(now)
	}
	if c.metrics.perCall {
		ch.count.Add(1)
		return // End records the call's measurements
	}
	ch.once.Do(func() {
		ch.ctx = trace.ContextWithSpan(context.Background(), c.span) // exemplars link to the span
		ch.opts = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(c.metricAttrs...))}
	})
	if prev == 0 {
		c.metrics.first.Record(ch.ctx, time.Duration(now-1).Seconds(), ch.opts...)
		return
	}
	d := now - prev
	if d < 0 { // two concurrent calls read the clock in one order and swapped in the other
		d = 0
	}
	c.metrics.next.Record(ch.ctx, time.Duration(d).Seconds(), ch.opts...)
}

// End ends the span and records the metrics. A non-nil err marks the span as
// failed (status Error, the error recorded, error.type set), also on the
// duration measurement.
//
// Only the first End counts; later ones do nothing.
func (c *Call) End(err error) {
	if c.ended.Swap(true) {
		return
	}
	end := time.Now()
	r := c.resp
	var attrs []attribute.KeyValue
	if r.ID != "" {
		attrs = append(attrs, ResponseIDKey.String(r.ID))
	}
	if r.Model != "" {
		attrs = append(attrs, ResponseModelKey.String(r.Model))
	}
	if len(r.FinishReasons) > 0 {
		attrs = append(attrs, ResponseFinishReasonsKey.StringSlice(r.FinishReasons))
	}
	first := c.chunks.first.Load()
	if first != 0 && !c.metrics.perCall {
		attrs = append(attrs, ResponseTimeToFirstChunkKey.Float64(time.Duration(first-1).Seconds()))
		if !c.stream {
			attrs = append(attrs, RequestStreamKey.Bool(true))
		}
	}
	if r.HasUsage {
		attrs = append(attrs, UsageInputTokensKey.Int64(r.InputTokens), UsageOutputTokensKey.Int64(r.OutputTokens))
	}
	if c.in.captureContent {
		if len(r.Messages) > 0 {
			attrs = append(attrs, OutputMessagesKey.String(messagesJSON(r.Messages, r.FinishReasons)))
		}
		if c.hasResult {
			attrs = append(attrs, ToolCallResultKey.String(toJSON(c.toolResult)))
		}
	}
	var errType attribute.KeyValue
	if err != nil {
		errType = errorType(err)
		attrs = append(attrs, errType)
		c.span.RecordError(err)
		c.span.SetStatus(codes.Error, err.Error())
	}
	c.span.SetAttributes(attrs...)
	c.span.End(trace.WithTimestamp(end))

	ctx := trace.ContextWithSpan(context.Background(), c.span) // exemplars link to the span
	base := c.metricAttrs
	if r.Model != "" {
		base = append(base[:len(base):len(base)], ResponseModelKey.String(r.Model))
	}
	if c.metrics.duration.Enabled(ctx) {
		d := base
		if err != nil {
			d = append(d[:len(d):len(d)], errType)
		}
		c.metrics.duration.Record(ctx, end.Sub(c.start).Seconds(), metric.WithAttributes(d...))
	}
	if r.HasUsage && c.metrics.tokens != nil && c.metrics.tokens.Enabled(ctx) {
		in := append(base[:len(base):len(base)], TokenTypeKey.String("input"))
		out := append(base[:len(base):len(base)], TokenTypeKey.String("output"))
		c.metrics.tokens.Record(ctx, r.InputTokens, metric.WithAttributes(in...))
		c.metrics.tokens.Record(ctx, r.OutputTokens, metric.WithAttributes(out...))
	}
	if c.metrics.perCall && err == nil && first != 0 {
		tokens := c.chunks.count.Load()
		if r.HasUsage {
			tokens = r.OutputTokens
		}
		c.recordPerCall(ctx, end.Sub(c.start), time.Duration(first-1), tokens, base)
	}
}

// recordPerCall records the time to the first token and the time per output
// token after it of a successful call, once each; see [Call.Chunk].
func (c *Call) recordPerCall(ctx context.Context, total, first time.Duration, tokens int64, attrs []attribute.KeyValue) {
	opt := metric.WithAttributes(attrs...) // one attribute set for both
	if c.metrics.first.Enabled(ctx) {
		c.metrics.first.Record(ctx, first.Seconds(), opt)
	}
	if tokens < 2 || !c.metrics.next.Enabled(ctx) {
		return
	}
	rest := total - first
	if rest < 0 { // a Chunk concurrent with End read the clock after it
		rest = 0
	}
	c.metrics.next.Record(ctx, rest.Seconds()/float64(tokens-1), opt)
}

// errorType is error.type: "timeout" for a deadline, "canceled" for a
// cancelled context, whether the context's own error or a gRPC status
// carrying it (a model or agent called over gRPC), the status code's name
// for any other gRPC status (such as "Unavailable"), else what
// semconv.ErrorType derives (an ErrorType() method or the error's type name).
func errorType(err error) attribute.KeyValue {
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case grpccodes.DeadlineExceeded:
			return semconv.ErrorTypeKey.String("timeout")
		case grpccodes.Canceled:
			return semconv.ErrorTypeKey.String("canceled")
		}
		return semconv.ErrorTypeKey.String(s.Code().String())
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return semconv.ErrorTypeKey.String("timeout")
	case errors.Is(err, context.Canceled):
		return semconv.ErrorTypeKey.String("canceled")
	}
	return semconv.ErrorType(err)
}

// messagesJSON renders messages in the conventions' structure:
// [{"role":"user","parts":[{"type":"text","content":"..."}]}], with the
// finish reasons on output messages.
func messagesJSON(msgs []Message, finishReasons []string) string {
	type part struct {
		Type    string `json:"type"`
		Content string `json:"content"`
	}
	type message struct {
		Role         string `json:"role"`
		Parts        []part `json:"parts"`
		FinishReason string `json:"finish_reason,omitempty"`
	}
	out := make([]message, len(msgs))
	for i, m := range msgs {
		out[i] = message{Role: m.Role, Parts: []part{{Type: "text", Content: m.Content}}}
		if i < len(finishReasons) {
			out[i].FinishReason = finishReasons[i]
		}
	}
	return toJSON(out)
}

func instructionsJSON(s string) string {
	return toJSON([]map[string]string{{"type": "text", "content": s}})
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return `"<unencodable>"`
	}
	return string(b)
}
