package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/loupe-dev/loupe/genai"
)

// The OpenAI-style chat API the llm service speaks.
type (
	chatMessage struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	chatRequest struct {
		Model     string        `json:"model"`
		Messages  []chatMessage `json:"messages"`
		Stream    bool          `json:"stream,omitempty"`
		MaxTokens int           `json:"max_tokens,omitempty"`
	}
	chatChoice struct {
		Index        int          `json:"index"`
		Message      *chatMessage `json:"message,omitempty"`
		Delta        *chatMessage `json:"delta,omitempty"`
		FinishReason *string      `json:"finish_reason"`
	}
	chatUsage struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
		TotalTokens      int64 `json:"total_tokens"`
	}
	chatResponse struct {
		ID      string       `json:"id"`
		Object  string       `json:"object"`
		Created int64        `json:"created"`
		Model   string       `json:"model"`
		Choices []chatChoice `json:"choices"`
		Usage   *chatUsage   `json:"usage,omitempty"`
	}
)

// provider is gen_ai.provider.name of the stand-in model server.
const provider = "loupe.demo"

// model is a stand-in model's latency profile: time to the first token and
// per output token, each drawn from a log-normal distribution around these.
type model struct {
	firstToken, perToken time.Duration
}

var models = map[string]model{
	"demo-small": {firstToken: 40 * time.Millisecond, perToken: 3 * time.Millisecond},
	"demo-large": {firstToken: 150 * time.Millisecond, perToken: 9 * time.Millisecond},
}

// maxHang bounds a hanging call, should its caller never give up.
const maxHang = 30 * time.Second

func runLLM(ctx context.Context, rt *runtime) error {
	hangRate, err := strconv.ParseFloat(rt.env("LLM_HANG_RATE"), 64)
	if err != nil || hangRate < 0 || hangRate > 1 {
		return fmt.Errorf("LLM_HANG_RATE=%q: want a share between 0 and 1", rt.env("LLM_HANG_RATE"))
	}
	s := &llmServer{gen: genai.New(), hangRate: hangRate}
	rt.mux.HandleFunc("POST /v1/chat/completions", s.completions)
	return rt.serveHTTP(ctx, rt.mux)
}

type llmServer struct {
	gen      *genai.Instrumenter
	hangRate float64 // the share of calls on which the model hangs, besides FaultLLMTimeout's
}

func (s *llmServer) completions(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	m, ok := models[req.Model]
	switch {
	case !ok:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("model %q does not exist: use demo-small or demo-large", req.Model))
		return
	case len(req.Messages) == 0:
		writeError(w, http.StatusBadRequest, "messages is empty")
		return
	}
	ctx, call := s.gen.StartServe(r.Context(), genai.Chat{
		Provider: provider, Model: req.Model, Stream: req.Stream, MaxTokens: req.MaxTokens,
	})
	var err error
	defer func() { call.End(err) }()

	prompt := promptText(req.Messages)
	words, finish := completion(prompt, req.MaxTokens)
	usage := chatUsage{PromptTokens: countTokens(prompt), CompletionTokens: int64(len(words))}
	usage.TotalTokens = usage.PromptTokens + usage.CompletionTokens
	id := fmt.Sprintf("chatcmpl-%016x", hash(prompt+req.Model))
	call.SetResponse(genai.Response{ID: id, Model: req.Model, FinishReasons: []string{finish},
		InputTokens: usage.PromptTokens, OutputTokens: usage.CompletionTokens, HasUsage: true})

	if fault(ctx) == FaultLLMTimeout || rand.Float64() < s.hangRate {
		err = hang(ctx)
		answerFailure(w, err)
		return
	}
	if err = sleep(ctx, jitter(m.firstToken)); err != nil {
		answerFailure(w, err)
		return
	}
	if !req.Stream {
		// The model generates token by token, streamed or not: the server
		// metrics time the first token and those after it alike.
		for i := range words {
			if i > 0 {
				if err = sleep(ctx, jitter(m.perToken)); err != nil {
					answerFailure(w, err)
					return
				}
			}
			call.Chunk()
		}
		writeJSON(w, http.StatusOK, chatResponse{ID: id, Object: "chat.completion", Created: time.Now().Unix(), Model: req.Model,
			Choices: []chatChoice{{Message: &chatMessage{Role: "assistant", Content: strings.Join(words, " ")}, FinishReason: &finish}},
			Usage:   &usage})
		return
	}
	err = s.stream(ctx, w, m, id, req.Model, words, finish, usage, call)
}

// stream writes the completion as server-sent events, a word per chunk,
// then the finish reason, the usage and [DONE], as OpenAI's API does with
// stream_options.include_usage.
func (s *llmServer) stream(ctx context.Context, w http.ResponseWriter, m model, id, modelName string, words []string, finish string, usage chatUsage, call *genai.Call) error {
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(c chatResponse) error {
		c.ID, c.Object, c.Created, c.Model = id, "chat.completion.chunk", time.Now().Unix(), modelName
		b, _ := json.Marshal(c)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	}
	for i, word := range words {
		if i > 0 {
			word = " " + word
			if err := sleep(ctx, jitter(m.perToken)); err != nil {
				return err
			}
		}
		call.Chunk()
		if err := send(chatResponse{Choices: []chatChoice{{Delta: &chatMessage{Role: "assistant", Content: word}}}}); err != nil {
			return err
		}
	}
	if err := send(chatResponse{Choices: []chatChoice{{Delta: &chatMessage{}, FinishReason: &finish}}}); err != nil {
		return err
	}
	if err := send(chatResponse{Choices: []chatChoice{}, Usage: &usage}); err != nil {
		return err
	}
	_, err := fmt.Fprint(w, "data: [DONE]\n\n")
	return err
}

// statusClientClosed is nginx's "client closed request": the caller gave up
// before the answer. It never reaches the caller, but the server span and
// the duration histogram say what became of the call instead of a 200.
const statusClientClosed = 499

// answerFailure answers a call that failed before anything was written.
func answerFailure(w http.ResponseWriter, err error) {
	if errors.Is(err, context.Canceled) {
		writeError(w, statusClientClosed, "the caller gave up")
		return
	}
	writeError(w, http.StatusGatewayTimeout, err.Error())
}

// hang waits until the caller gives up (or maxHang), as a stuck model does.
func hang(ctx context.Context) error {
	if err := sleep(ctx, maxHang); err != nil {
		return err
	}
	return errors.New("model hung")
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// jitter draws a duration from a log-normal distribution of median d, with
// one call in fifty four times slower: the long tail of real model servers.
func jitter(d time.Duration) time.Duration {
	f := math.Exp(0.35 * rand.NormFloat64())
	if rand.IntN(50) == 0 {
		f *= 4
	}
	return time.Duration(float64(d) * f)
}

var vocabulary = strings.Fields(`the a model agent answer plan search result trace span metric
latency token service request user data cache query worker job speech voice stream chunk
context signal error retry budget quota project summary insight fast slow clear brief
because therefore however while and with from into over under about around`)

// completion is the deterministic answer to prompt: the same prompt always
// gets the same words. maxTokens (0: none) cuts it, with finish reason length.
func completion(prompt string, maxTokens int) ([]string, string) {
	h := hash(prompt)
	n := 12 + int(h%48)
	finish := "stop"
	if maxTokens > 0 && n > maxTokens {
		n, finish = maxTokens, "length"
	}
	words := make([]string, n)
	for i := range words {
		h = h*6364136223846793005 + 1442695040888963407
		words[i] = vocabulary[(h>>33)%uint64(len(vocabulary))]
	}
	return words, finish
}

func promptText(msgs []chatMessage) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(m.Role)
		b.WriteByte(':')
		b.WriteString(m.Content)
		b.WriteByte('\n')
	}
	return b.String()
}

// countTokens approximates a tokenizer: four characters a token.
func countTokens(s string) int64 { return int64(len(s)+3) / 4 }

func hash(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// llmClient calls the llm service, recording each call as a GenAI client
// operation.
type llmClient struct {
	url  string // …/v1/chat/completions
	host string
	port int
	http *http.Client
	gen  *genai.Instrumenter
}

// llmTimeout is how long a caller waits for a model.
const llmTimeout = 3 * time.Second

func newLLMClient(base string, gen *genai.Instrumenter) (*llmClient, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("LLM_URL=%q: want http://host:port", base)
	}
	c := &llmClient{url: strings.TrimSuffix(base, "/") + "/v1/chat/completions", host: u.Hostname(), gen: gen, http: httpClient(0)}
	c.port, _ = strconv.Atoi(u.Port()) // 0, not recorded, when the URL has none
	return c, nil
}

// reply is a model's answer.
type reply struct {
	Text                      string
	InputTokens, OutputTokens int64
}

// chat sends one chat request; attrs are added to its metrics (bounded).
func (c *llmClient) chat(ctx context.Context, modelName string, msgs []chatMessage, stream bool, attrs ...attribute.KeyValue) (rep reply, err error) {
	ctx, cancel := context.WithTimeout(ctx, llmTimeout)
	defer cancel()
	ctx, call := c.gen.StartChat(ctx, genai.Chat{Provider: provider, Model: modelName, ServerAddress: c.host, ServerPort: c.port,
		Stream: stream, MaxTokens: 256, MetricAttributes: attrs})
	resp := genai.Response{}
	defer func() {
		call.SetResponse(resp)
		call.End(err)
	}()
	req := chatRequest{Model: modelName, Messages: msgs, Stream: stream, MaxTokens: 256}
	if !stream {
		var out chatResponse
		if err := postJSON(ctx, c.http, c.url, req, &out); err != nil {
			return rep, err
		}
		resp.ID, resp.Model = out.ID, out.Model
		if len(out.Choices) > 0 && out.Choices[0].Message != nil {
			rep.Text = out.Choices[0].Message.Content
			if f := out.Choices[0].FinishReason; f != nil {
				resp.FinishReasons = []string{*f}
			}
		}
		if out.Usage != nil {
			rep.InputTokens, rep.OutputTokens = out.Usage.PromptTokens, out.Usage.CompletionTokens
			resp.InputTokens, resp.OutputTokens, resp.HasUsage = rep.InputTokens, rep.OutputTokens, true
		}
		return rep, nil
	}
	return c.stream(ctx, req, call, &resp)
}

func (c *llmClient) stream(ctx context.Context, req chatRequest, call *genai.Call, resp *genai.Response) (rep reply, err error) {
	body, _ := json.Marshal(req)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, strings.NewReader(string(body)))
	if err != nil {
		return rep, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := c.http.Do(hreq)
	if err != nil {
		return rep, err
	}
	defer func() { _ = hresp.Body.Close() }()
	if hresp.StatusCode != http.StatusOK {
		return rep, &StatusError{Code: hresp.StatusCode, Msg: "llm stream refused"}
	}
	var text strings.Builder
	sc := bufio.NewScanner(hresp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			rep.Text = text.String()
			return rep, nil
		}
		var chunk chatResponse
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			return rep, fmt.Errorf("llm stream: %w", err)
		}
		resp.ID, resp.Model = chunk.ID, chunk.Model
		for _, ch := range chunk.Choices {
			if ch.Delta != nil && ch.Delta.Content != "" {
				call.Chunk()
				text.WriteString(ch.Delta.Content)
			}
			if ch.FinishReason != nil {
				resp.FinishReasons = []string{*ch.FinishReason}
			}
		}
		if u := chunk.Usage; u != nil {
			rep.InputTokens, rep.OutputTokens = u.PromptTokens, u.CompletionTokens
			resp.InputTokens, resp.OutputTokens, resp.HasUsage = u.PromptTokens, u.CompletionTokens, true
		}
	}
	if err := sc.Err(); err != nil {
		return rep, err
	}
	return rep, errors.New("llm stream ended before [DONE]")
}
