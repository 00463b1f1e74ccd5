package store

import (
	"fmt"
	"math"
	"time"
)

// The times a store can hold: nanoseconds since the Unix epoch in an
// int64, from 1677-09-21 to 2262-04-11.
var (
	MinTime = time.Unix(0, math.MinInt64).UTC()
	MaxTime = time.Unix(0, math.MaxInt64).UTC()
)

// CheckTime returns an error naming param when t is outside MinTime and
// MaxTime, where a query on its nanoseconds would overflow and silently
// match nothing.
func CheckTime(param string, t time.Time) error {
	if t.Before(MinTime) || t.After(MaxTime) {
		return fmt.Errorf("parameter %s: %s is outside the times the store can hold (%s to %s)",
			param, t.UTC().Format(time.RFC3339Nano), MinTime.Format(time.RFC3339), MaxTime.Format(time.RFC3339))
	}
	return nil
}
