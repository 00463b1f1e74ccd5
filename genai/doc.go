// Package genai records model calls, agent invocations and tool executions as
// OpenTelemetry spans and metrics following the OpenTelemetry GenAI semantic
// conventions (development status; the gen_ai.* names of semantic conventions
// v1.41.0, the last release that carried them before they moved to their own
// repository, semantic-conventions-genai).
//
// An [Instrumenter] starts four kinds of operation:
//
//   - [Instrumenter.StartChat]: a span "chat {model}" of kind Client;
//   - [Instrumenter.StartServe]: "chat {model}" of kind Internal, for code
//     that serves a model (see below);
//   - [Instrumenter.StartAgent]: "invoke_agent {name}", kind Client for a
//     remote agent and Internal for one running in this process;
//   - [Instrumenter.StartTool]: "execute_tool {name}", kind Internal.
//
// Each returns a [Call] to end with the outcome. Ending records the
// gen_ai.client.operation.duration histogram (seconds) and, when the response
// reports token usage, gen_ai.client.token.usage ({token}), both with the
// bucket boundaries the conventions advise.
//
// The measurements carry the attributes the conventions list for them
// (gen_ai.operation.name, gen_ai.provider.name, the models, server.address and
// server.port, error.type on failure: "timeout" and "canceled" for a
// context's deadline or cancellation, also when a gRPC status carries them,
// another gRPC status's code name, an ErrorType() string method of the error,
// or else its type name). MetricAttributes, on [Chat], [Agent]
// and [Tool], adds your own to every measurement of the call, and to its
// span: a project, say, or gen_ai.agent.name, which an agent's metrics
// otherwise leave out. Each distinct set of values is a series of its own, so
// keep them bounded.
//
// For a streamed response, call [Call.Chunk] as each chunk arrives: it records
// gen_ai.client.operation.time_to_first_chunk and
// gen_ai.client.operation.time_per_output_chunk (seconds, the same buckets),
// and End adds gen_ai.response.time_to_first_chunk to the span. Calls without
// chunks record neither, as the conventions ask for non-streaming calls.
//
// Code that serves a model (a model server, or a stand-in for one) uses
// [Instrumenter.StartServe] instead of StartChat: a span "chat {model}" of
// kind Internal, under the server span of the HTTP or gRPC middleware that
// received the request, and the model server's metrics instead of the
// client's. End records gen_ai.server.request.duration (seconds, error.type
// on failure) and, for a successful call with chunks,
// gen_ai.server.time_to_first_token and gen_ai.server.time_per_output_token,
// once each, as the conventions define them: per request, for successful
// responses, the second being the time after the first token divided among
// the output tokens after it. Each has the buckets the conventions advise.
// The conventions define no server token metric; the usage goes on the span.
//
// Prompts, completions, system instructions and tool arguments and results
// may contain personal data: they are recorded only with
// [WithContentCapture](true), as the gen_ai.input.messages,
// gen_ai.output.messages, gen_ai.system_instructions,
// gen_ai.tool.call.arguments and gen_ai.tool.call.result attributes.
//
// Agent-to-agent calls over HTTP or gRPC stay in one trace when the transport
// is instrumented (loupehttp, loupegrpc): the remote agent's span is a child of
// the caller's invoke_agent span.
//
// [New] takes [WithTracerProvider] and [WithMeterProvider], defaulting to the
// OpenTelemetry globals at construction time.
package genai
