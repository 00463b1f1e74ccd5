package prom

import (
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/annotations"
)

// DefaultSampleInterval is the sample spacing assumed of series that show
// none (no series has two samples in the range): the export interval of the
// OpenTelemetry SDKs' periodic metric reader.
const DefaultSampleInterval = time.Minute

// intervalData is the answer of /api/v1/rate_interval.
type intervalData struct {
	// SampleInterval is the spacing of the samples of the series the
	// query's selectors match, in seconds: the largest of their median
	// spacings, or 0 when none has two samples in the range.
	SampleInterval float64 `json:"sampleInterval"`
	// RateInterval is the range to give rate(), increase() and the rate()
	// inside histogram_quantile() at this step, as a PromQL duration.
	RateInterval string `json:"rateInterval"`
	// Series is how many series the query's selectors match in the range.
	Series int `json:"series"`
}

// rateInterval answers /api/v1/rate_interval?query=…&start=…&end=…&step=…
// (a Loupe extension): the range a rate() of the query's series needs at
// that step, from the spacing of their samples — what Grafana's
// $__rate_interval gives from a data source's configured scrape interval,
// but measured. The SDKs export every 60 s by default, so the [1m] of a
// scraped Prometheus would hold one sample and draw nothing.
func (h *Handler) rateInterval(r *http.Request) (any, annotations.Annotations, *apiError) {
	start, end, e := timeRange(r, minTime, maxTime)
	if e != nil {
		return nil, nil, e
	}
	var step time.Duration
	if s := r.Form.Get("step"); s != "" {
		d, err := parseDuration(s)
		if err != nil || d < 0 {
			return nil, nil, badData("step", err)
		}
		step = d
	}
	expr, err := h.parser.ParseExpr(r.Form.Get("query"))
	if err != nil {
		return nil, nil, badData("query", err)
	}
	out := intervalData{}
	q := h.q.querier(rangeMillis(start, math.MinInt64), rangeMillis(end, math.MaxInt64))
	if sets := parser.ExtractSelectors(expr); len(sets) > 0 {
		found, err := q.seriesMatching(r.Context(), sets...)
		if err != nil {
			return nil, nil, engineError(err)
		}
		out.Series = len(found)
		mint, maxt := rangeMillis(start, math.MinInt64), rangeMillis(end, math.MaxInt64)
		for _, s := range found {
			out.SampleInterval = max(out.SampleInterval, medianSpacing(s.ts, mint, maxt).Seconds())
		}
	}
	interval := time.Duration(out.SampleInterval * float64(time.Second))
	if interval == 0 {
		interval = DefaultSampleInterval
	}
	out.RateInterval = model.Duration(RateInterval(interval, step)).String()
	return out, q.warn, nil
}

// RateInterval is the range of a rate() over series whose samples come
// every interval, evaluated every step: four intervals, so that at least
// two samples fall in it whatever the phase and jitter of the exports, and
// no less than a step and an interval, so that no sample falls between two
// steps' windows (the formula of Grafana's $__rate_interval). It is rounded
// up to a whole second.
func RateInterval(interval, step time.Duration) time.Duration {
	w := max(4*interval, step+interval)
	return (w + time.Second - 1).Truncate(time.Second)
}

// medianSpacing is the median time between consecutive samples of ts
// (milliseconds, increasing) within [mint, maxt], or 0 when fewer than two
// fall there. The median ignores the gap of a restart or an outage.
func medianSpacing(ts []int64, mint, maxt int64) time.Duration {
	lo, _ := slices.BinarySearch(ts, mint)
	hi, found := slices.BinarySearch(ts, maxt)
	if found {
		hi++
	}
	if hi-lo < 2 {
		return 0
	}
	gaps := make([]int64, 0, hi-lo-1)
	for i := lo + 1; i < hi; i++ {
		gaps = append(gaps, ts[i]-ts[i-1])
	}
	slices.Sort(gaps)
	return time.Duration(gaps[len(gaps)/2]) * time.Millisecond
}
