package falcon

import (
	"sync/atomic"
	"time"
)

// timeLayouts are tried in order. Falcon sends RFC 3339 with or without
// fractional seconds; older records and some intel fields come without a zone
// or as a bare date, which are read as UTC.
var timeLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseTime reads a Falcon timestamp leniently. Empty means "not set" and is
// the zero time; anything unreadable is also the zero time, and is counted in
// bad (when non-nil) so that data problems show up in Stats instead of
// crashing a stream.
func parseTime(s string, bad *atomic.Int64) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	if bad != nil {
		bad.Add(1)
	}
	return time.Time{}
}

// parseTimeBytes is parseTime for decoder-owned bytes; it avoids a string
// allocation on the common RFC 3339 path.
func parseTimeBytes(b []byte, bad *atomic.Int64) time.Time {
	if len(b) == 0 {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, string(b)); err == nil {
		return t.UTC()
	}
	return parseTime(string(b), bad)
}
