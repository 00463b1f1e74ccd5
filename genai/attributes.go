package genai

import "go.opentelemetry.io/otel/attribute"

// Attribute keys of the GenAI semantic conventions. Semantic conventions
// v1.43.0, the version Loupe pins, no longer define them (they moved to the
// semantic-conventions-genai repository); the names are those of v1.41.0.
const (
	OperationNameKey         = attribute.Key("gen_ai.operation.name")
	ProviderNameKey          = attribute.Key("gen_ai.provider.name")
	RequestModelKey          = attribute.Key("gen_ai.request.model")
	RequestMaxTokensKey      = attribute.Key("gen_ai.request.max_tokens")
	RequestTemperatureKey    = attribute.Key("gen_ai.request.temperature")
	RequestTopPKey           = attribute.Key("gen_ai.request.top_p")
	RequestStreamKey         = attribute.Key("gen_ai.request.stream")
	ResponseIDKey            = attribute.Key("gen_ai.response.id")
	ResponseModelKey         = attribute.Key("gen_ai.response.model")
	ResponseFinishReasonsKey = attribute.Key("gen_ai.response.finish_reasons")
	// ResponseTimeToFirstChunkKey is in seconds, on streamed calls.
	ResponseTimeToFirstChunkKey = attribute.Key("gen_ai.response.time_to_first_chunk")
	UsageInputTokensKey         = attribute.Key("gen_ai.usage.input_tokens")
	UsageOutputTokensKey        = attribute.Key("gen_ai.usage.output_tokens")
	ConversationIDKey           = attribute.Key("gen_ai.conversation.id")
	AgentNameKey                = attribute.Key("gen_ai.agent.name")
	AgentIDKey                  = attribute.Key("gen_ai.agent.id")
	AgentDescriptionKey         = attribute.Key("gen_ai.agent.description")
	ToolNameKey                 = attribute.Key("gen_ai.tool.name")
	ToolCallIDKey               = attribute.Key("gen_ai.tool.call.id")
	ToolDescriptionKey          = attribute.Key("gen_ai.tool.description")
	ToolTypeKey                 = attribute.Key("gen_ai.tool.type")
	TokenTypeKey                = attribute.Key("gen_ai.token.type")

	// Opt-in content, recorded only with WithContentCapture(true).
	InputMessagesKey      = attribute.Key("gen_ai.input.messages")
	OutputMessagesKey     = attribute.Key("gen_ai.output.messages")
	SystemInstructionsKey = attribute.Key("gen_ai.system_instructions")
	ToolCallArgumentsKey  = attribute.Key("gen_ai.tool.call.arguments")
	ToolCallResultKey     = attribute.Key("gen_ai.tool.call.result")
)

// Values of gen_ai.operation.name.
const (
	OperationChat        = "chat"
	OperationInvokeAgent = "invoke_agent"
	OperationExecuteTool = "execute_tool"
)

// Metric names and the bucket boundaries the conventions advise.
const (
	TokenUsageMetric        = "gen_ai.client.token.usage"
	OperationDurationMetric = "gen_ai.client.operation.duration"
	// Streaming calls only (see Call.Chunk); the same buckets as the duration.
	TimeToFirstChunkMetric   = "gen_ai.client.operation.time_to_first_chunk"
	TimePerOutputChunkMetric = "gen_ai.client.operation.time_per_output_chunk"

	// A model server's (see Instrumenter.StartServe); the request duration
	// has the client duration's buckets, the other two their own.
	ServerRequestDurationMetric    = "gen_ai.server.request.duration"
	ServerTimeToFirstTokenMetric   = "gen_ai.server.time_to_first_token"
	ServerTimePerOutputTokenMetric = "gen_ai.server.time_per_output_token"
)

var (
	tokenUsageBuckets = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	durationBuckets   = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}

	timeToFirstTokenBuckets   = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0}
	timePerOutputTokenBuckets = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5}
)
