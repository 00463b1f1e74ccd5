// Package demo is Loupe's demo platform: five services of an agent product,
// instrumented only through Loupe, that `loupe demo` starts as child
// processes of one binary and that deploy files run as containers.
//
//   - gateway: the public HTTP API (POST /v1/chat, /v1/agents, /v1/speech):
//     input validation (400), a per-client rate limit in Redis (429), usage
//     per client as a counter and a SQL row.
//   - orchestrator: plans each chat, calls its agents agent-to-agent over
//     gRPC (researcher) and HTTP (writer), which call the model; calls the
//     speech service; deploys agents; enqueues a background job in Redis with
//     the trace context in the message.
//   - llm: a deterministic stand-in model server with an OpenAI-style chat
//     API, streaming included, token counts, a realistic latency
//     distribution and occasional timeouts.
//   - tts: a speech-synthesis stand-in whose results are cached in Redis.
//   - worker: consumes the jobs (fetch, transform, save in SQL) and counts
//     completed and failed ones.
//
// Each service is configured by the standard OTEL_* variables and its own
// peers' addresses only (see [Services] for the variables), puts
// service.version and deployment.environment.name on its resource, and
// serves GET /health, and GET /metrics when OTEL_METRICS_EXPORTER includes
// prometheus. On start it prints one line to standard output,
// "ready http=ADDR [grpc=ADDR]", once its listeners are bound.
//
// Failures are injected through W3C baggage: a request whose baggage holds
// demo.fault=<kind> (see the Fault constants) makes the service concerned
// misbehave, wherever the trace goes. [Traffic] generates a realistic mix with
// every kind of failure.
package demo
