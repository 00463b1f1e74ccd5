package demo

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/loupe-dev/loupe/telemetry"
)

var workerScope = telemetry.Get("demo/worker")

// queue is the Redis list jobs go through: LPUSH by the orchestrator, BRPOP
// by the workers.
const queue = "jobs"

// job is a queued message. Headers carry the trace context (traceparent,
// baggage), so the worker continues the trace of the request that sent it.
type job struct {
	ID       string            `json:"id"`
	Kind     string            `json:"kind"`
	ClientID string            `json:"client_id"`
	Project  string            `json:"project"`
	Text     string            `json:"text"`
	SentAt   time.Time         `json:"sent_at"`
	Headers  map[string]string `json:"headers"`
}

// messagingAttrs are the messaging conventions' attributes of an operation
// on the queue. Redis is not among messaging.system's listed values, which
// the conventions allow.
func messagingAttrs(op attribute.KeyValue, id string) []attribute.KeyValue {
	return []attribute.KeyValue{
		semconv.MessagingSystemKey.String("redis"),
		op,
		semconv.MessagingOperationName(op.Value.AsString()),
		semconv.MessagingDestinationName(queue),
		semconv.MessagingMessageID(id),
	}
}

// enqueue sends j: a producer span "send jobs" whose context goes in the
// message.
func enqueue(ctx context.Context, rdb *redis.Client, j job) (err error) {
	ctx, span := orchestratorScope.StartSpan(ctx, "send "+queue, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(messagingAttrs(semconv.MessagingOperationTypeSend, j.ID)...))
	defer func() { telemetry.End(span, err) }()
	j.Headers = map[string]string{}
	telemetry.InjectMap(ctx, j.Headers)
	j.SentAt = time.Now()
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return rdb.LPush(ctx, queue, b).Err()
}

func runWorker(ctx context.Context, rt *runtime) error {
	rdb, err := rt.redis()
	if err != nil {
		return err
	}
	db, err := rt.db(ctx)
	if err != nil {
		return err
	}
	w := &worker{rdb: rdb, db: db,
		completed: workerScope.Counter("worker.jobs.completed", metric.WithUnit("{job}"), metric.WithDescription("Jobs processed successfully.")),
		failed:    workerScope.Counter("worker.jobs.failed", metric.WithUnit("{job}"), metric.WithDescription("Jobs that failed, by error.type.")),
		duration: workerScope.Histogram("worker.job.duration", metric.WithUnit("s"), metric.WithDescription("Time to process a job."),
			metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)),
		lag: workerScope.Histogram("worker.job.queue_time", metric.WithUnit("s"), metric.WithDescription("Time a job waited in the queue."),
			metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10)),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.consume(ctx)
	}()
	err = rt.serveHTTP(ctx, rt.mux)
	<-done
	return err
}

type worker struct {
	rdb               *redis.Client
	db                *sql.DB
	completed, failed *telemetry.Counter
	duration, lag     *telemetry.Histogram
}

// consume pops jobs until ctx is done; the job in hand is finished first.
func (w *worker) consume(ctx context.Context) {
	log := workerScope.Logger()
	for ctx.Err() == nil {
		res, err := w.rdb.BRPop(ctx, 2*time.Second, queue).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case err != nil:
			if ctx.Err() == nil {
				log.ErrorContext(ctx, "queue unavailable", telemetry.Err(err))
				_ = sleep(ctx, time.Second)
			}
			continue
		}
		var j job
		if err := json.Unmarshal([]byte(res[1]), &j); err != nil {
			log.ErrorContext(ctx, "dropping a malformed job", telemetry.Err(err))
			continue
		}
		w.process(context.WithoutCancel(ctx), j)
	}
}

// process runs one job: a consumer span "process jobs", child of the send
// span, around process_job → fetch, transform, save.
func (w *worker) process(ctx context.Context, j job) {
	ctx = telemetry.ExtractMap(ctx, j.Headers)
	ctx, span := workerScope.StartSpan(ctx, "process "+queue, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(messagingAttrs(semconv.MessagingOperationTypeProcess, j.ID)...))
	start := time.Now()
	if !j.SentAt.IsZero() {
		w.lag.Record(ctx, start.Sub(j.SentAt).Seconds())
	}
	kind := attribute.String("job.kind", j.Kind)
	_, err := telemetry.Traced(ctx, "process_job", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, w.run(ctx, j)
	}, attribute.String("job.id", j.ID), kind)
	telemetry.End(span, err)
	log := workerScope.Logger()
	if err != nil {
		et := semconv.ErrorType(err)
		w.failed.Add(ctx, 1, metric.WithAttributes(kind, et))
		w.duration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(kind, attribute.String("job.outcome", "failed")))
		log.ErrorContext(ctx, "job failed", "job.id", j.ID, "job.kind", j.Kind, telemetry.Err(err))
		return
	}
	w.completed.Add(ctx, 1, metric.WithAttributes(kind))
	w.duration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(kind, attribute.String("job.outcome", "completed")))
	log.InfoContext(ctx, "job completed", "job.id", j.ID, "job.kind", j.Kind)
}

// errUnsupported is the transform's failure on one job in twenty-five.
var errUnsupported = errors.New("unsupported content")

func (w *worker) run(ctx context.Context, j job) error {
	usage, err := telemetry.Traced(ctx, "fetch", func(ctx context.Context) (int64, error) {
		if fault(ctx) == FaultSlowSQL { // first, so that every such job shows it
			var n int64
			if err := w.db.QueryRowContext(ctx, slowQuery).Scan(&n); err != nil {
				return 0, err
			}
		}
		var requests, tokens int64
		err := w.db.QueryRowContext(ctx, `SELECT requests, tokens FROM client_usage WHERE client_id = $1`, j.ClientID).Scan(&requests, &tokens)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return tokens, err
	})
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	summary, err := telemetry.Traced(ctx, "transform", func(ctx context.Context) (string, error) {
		if hash(j.ID)%25 == 0 {
			return "", fmt.Errorf("job %s: %w", j.ID, errUnsupported)
		}
		_ = sleep(ctx, jitter(8*time.Millisecond))
		return summarize(j.Text, usage), nil
	})
	if err != nil {
		return fmt.Errorf("transform: %w", err)
	}
	_, err = telemetry.Traced(ctx, "save", func(ctx context.Context) (struct{}, error) {
		_, err := w.db.ExecContext(ctx, `INSERT INTO job_results (job_id, kind, client_id, summary, words, done_ms) VALUES ($1, $2, $3, $4, $5, $6)`,
			j.ID, j.Kind, j.ClientID, summary, len(strings.Fields(j.Text)), time.Now().UnixMilli())
		return struct{}{}, err
	})
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

func summarize(text string, tokensSoFar int64) string {
	words := strings.Fields(text)
	if len(words) > 8 {
		words = words[:8]
	}
	return fmt.Sprintf("%s … (client total %d tokens)", strings.Join(words, " "), tokensSoFar)
}
