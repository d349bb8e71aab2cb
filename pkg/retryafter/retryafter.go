// Package retryafter reads the Retry-After header the way every outbound
// client of Keycard needs it (BambooHR, the SCIM vendors).
package retryafter

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Parse reads a Retry-After value: delay-seconds or an HTTP date (RFC 9110
// §10.2.3), relative to now. It returns 0 for an absent, invalid or past
// value and caps the result at limit, so a hostile or broken server cannot
// park a worker for days.
func Parse(v string, now time.Time, limit time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(limit/time.Second) {
			return limit
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), limit)
}
