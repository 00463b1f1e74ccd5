package demo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/loupe-dev/loupe/telemetry"
)

var ttsScope = telemetry.Get("demo/tts")

// speechRequest is the body of POST /v1/speech (tts, and the gateway's).
type speechRequest struct {
	Text  string `json:"text"`
	Voice string `json:"voice"`
}

type speechResponse struct {
	Voice      string `json:"voice"`
	AudioBytes int    `json:"audio_bytes"`
	Cached     bool   `json:"cached"`
}

var voices = map[string]bool{"alloy": true, "echo": true, "nova": true}

// cacheTTL is how long a synthesized text stays cached.
const cacheTTL = 10 * time.Minute

const cachePrefix = "tts:"

func runTTS(ctx context.Context, rt *runtime) error {
	rdb, err := rt.redis()
	if err != nil {
		return err
	}
	s := &ttsServer{rdb: rdb, lookups: ttsScope.Counter("tts.cache.lookups",
		metric.WithUnit("{lookup}"), metric.WithDescription("Speech cache lookups, by result (hit or miss)."))}
	rt.mux.HandleFunc("POST /v1/speech", s.speech)
	return rt.serveHTTP(ctx, rt.mux)
}

type ttsServer struct {
	rdb     *redis.Client
	lookups *telemetry.Counter
}

var (
	hitAttrs  = metric.WithAttributeSet(attribute.NewSet(attribute.String("tts.cache.result", "hit")))
	missAttrs = metric.WithAttributeSet(attribute.NewSet(attribute.String("tts.cache.result", "miss")))
)

func (s *ttsServer) speech(w http.ResponseWriter, r *http.Request) {
	var req speechRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if msg := req.validate(); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	ctx := r.Context()
	log := ttsScope.Logger()
	if fault(ctx) == FaultCacheFlush {
		n, err := s.flush(ctx)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "cache flush failed")
			return
		}
		log.WarnContext(ctx, "speech cache flushed", "keys", n)
	}
	sum := sha256.Sum256([]byte(req.Voice + "\x00" + req.Text))
	key := cachePrefix + hex.EncodeToString(sum[:12])
	size, err := s.rdb.StrLen(ctx, key).Result()
	if err != nil {
		log.ErrorContext(ctx, "speech cache unavailable", telemetry.Err(err))
	}
	if size > 0 {
		s.lookups.Add(ctx, 1, hitAttrs)
		writeJSON(w, http.StatusOK, speechResponse{Voice: req.Voice, AudioBytes: int(size), Cached: true})
		return
	}
	s.lookups.Add(ctx, 1, missAttrs)
	audio, err := telemetry.Traced(ctx, "synthesize", func(ctx context.Context) ([]byte, error) {
		return synthesize(ctx, req)
	}, attribute.String("tts.voice", req.Voice), attribute.Int("tts.text.length", len(req.Text)))
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "synthesis failed: "+err.Error())
		return
	}
	if err := s.rdb.Set(ctx, key, audio, cacheTTL).Err(); err != nil {
		log.WarnContext(ctx, "speech not cached", telemetry.Err(err))
	}
	writeJSON(w, http.StatusOK, speechResponse{Voice: req.Voice, AudioBytes: len(audio)})
}

func (req speechRequest) validate() string {
	switch {
	case req.Text == "":
		return "text is empty"
	case len(req.Text) > 2000:
		return "text is longer than 2000 bytes"
	case !voices[req.Voice]:
		return "voice must be one of alloy, echo, nova"
	}
	return ""
}

// synthesize stands in for a speech model: time and bytes in proportion to
// the text.
func synthesize(ctx context.Context, req speechRequest) ([]byte, error) {
	if err := sleep(ctx, jitter(60*time.Millisecond+time.Duration(len(req.Text))*time.Millisecond)); err != nil {
		return nil, err
	}
	return make([]byte, 800+32*len(req.Text)), nil
}

// flush deletes the cached speech, a batch of keys at a time.
func (s *ttsServer) flush(ctx context.Context) (int, error) {
	n := 0
	iter := s.rdb.Scan(ctx, 0, cachePrefix+"*", 200).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 200 {
			if err := s.rdb.Del(ctx, batch...).Err(); err != nil {
				return n, err
			}
			n, batch = n+len(batch), batch[:0]
		}
	}
	if err := iter.Err(); err != nil && !errors.Is(err, redis.Nil) {
		return n, err
	}
	if len(batch) > 0 {
		if err := s.rdb.Del(ctx, batch...).Err(); err != nil {
			return n, err
		}
		n += len(batch)
	}
	return n, nil
}
