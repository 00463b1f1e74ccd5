package prom

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// DefaultLightSpan is the most series-time a light query may read: the
// sum over its selectors of the time each reads of one series (a range
// selector's range, an instant selector's lookback), times its steps and
// its subqueries' steps. `1+1`, `up` or `rate(x[5m])` over an hour are
// light; `count_over_time(x[30d])` is heavy.
const DefaultLightSpan = 24 * time.Hour

// span estimates, before a query runs, the series-time it reads per
// series: the cost class of the query. Its value, not its series count, is
// known from the text: a light query over very many series is still
// bounded by the engine's MaxSamples and timeout.
func span(stmt *parser.EvalStmt, lookback time.Duration) time.Duration {
	steps := int64(1)
	if stmt.Interval > 0 {
		steps = int64(stmt.End.Sub(stmt.Start)/stmt.Interval) + 1
	}
	var total time.Duration
	parser.Inspect(stmt.Expr, func(node parser.Node, path []parser.Node) error {
		if _, ok := node.(*parser.VectorSelector); !ok {
			return nil
		}
		window := lookback
		if len(path) > 0 {
			if ms, ok := path[len(path)-1].(*parser.MatrixSelector); ok {
				window = ms.Range
			}
		}
		mult := steps
		for _, p := range path {
			if sq, ok := p.(*parser.SubqueryExpr); ok {
				step := sq.Step
				if step <= 0 {
					step = time.Minute // the engine's default evaluation interval
				}
				mult *= int64(sq.Range/step) + 1
			}
		}
		total = satAdd(total, satMul(window, mult))
		return nil
	})
	return total
}

func satMul(d time.Duration, n int64) time.Duration {
	if n != 0 && d > time.Duration(1<<62)/time.Duration(n) {
		return 1 << 62
	}
	return d * time.Duration(n)
}

func satAdd(a, b time.Duration) time.Duration { return min(a+b, 1<<62) }

// turn waits for a slot for qry, at most until wait is done: a heavy query
// takes one of the query slots; a light one takes a light slot, or, when
// none is free, whichever slot frees first, so that heavy queries holding
// every query slot do not hold light ones, and light ones leave the query
// slots to heavy ones while they can. release gives the slot back.
func (h *Handler) turn(wait context.Context, qry promql.Query) (release func(), e *apiError) {
	stmt, ok := qry.Statement().(*parser.EvalStmt)
	if ok && span(stmt, h.cfg.lookback) <= DefaultLightSpan {
		select {
		case h.lightSlots <- struct{}{}:
			return func() { <-h.lightSlots }, nil
		default:
		}
		select {
		case h.slots <- struct{}{}:
			return func() { <-h.slots }, nil
		case h.lightSlots <- struct{}{}:
			return func() { <-h.lightSlots }, nil
		case <-wait.Done():
			return nil, engineError(fmt.Errorf("waiting for one of %d queries to end: %w", cap(h.slots)+cap(h.lightSlots), wait.Err()))
		}
	}
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	case <-wait.Done():
		return nil, engineError(fmt.Errorf("waiting for one of %d queries to end: %w", cap(h.slots), wait.Err()))
	}
}
