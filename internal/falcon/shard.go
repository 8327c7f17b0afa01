package falcon

import (
	"time"

	"github.com/vulnpilot/vulnpilot/internal/fql"
)

// splitRange returns the n-1 inner boundaries that cut [oldest, newest] into
// n ranges of equal length, at whole seconds (Falcon's FQL timestamps are
// 'YYYY-MM-DDTHH:MM:SSZ'). Fewer come back when the span has fewer seconds;
// none when it cannot be split.
func splitRange(oldest, newest time.Time, n int) []time.Time {
	lo := oldest.UTC().Truncate(time.Second)
	hi := newest.UTC().Truncate(time.Second).Add(time.Second)
	span := int64(hi.Sub(lo) / time.Second)
	if n < 2 || span < 2 {
		return nil
	}
	n = int(min(int64(n), span))
	out := make([]time.Time, 0, n-1)
	for i := 1; i < n; i++ {
		out = append(out, lo.Add(time.Duration(span*int64(i)/int64(n))*time.Second))
	}
	return out
}

// shardFilter restricts the user's filter to created_timestamp in [lo, hi);
// a zero bound leaves that side open. ok is false when the user's filter is
// not FQL that internal/fql can parse: then the caller must not shard
// (pasting unparsed text next to a clause could change its meaning).
func shardFilter(user string, lo, hi time.Time) (filter string, ok bool, err error) {
	var userExpr fql.Expr
	if user != "" {
		n, perr := fql.Parse(user)
		if perr != nil {
			return "", false, nil
		}
		userExpr = n
	}
	var loExpr, hiExpr fql.Expr
	if !lo.IsZero() {
		loExpr = fql.Cmp("created_timestamp", ">=", lo)
	}
	if !hi.IsZero() {
		hiExpr = fql.Cmp("created_timestamp", "<", hi)
	}
	f, err := fql.Build(fql.And(userExpr, loExpr, hiExpr))
	if err != nil {
		return "", false, err
	}
	return f, true, nil
}
