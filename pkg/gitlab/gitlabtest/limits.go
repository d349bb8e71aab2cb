package gitlabtest

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// throttle is Rack::Attack's throttle_authenticated_api: limit requests
// in each period, counted in fixed windows aligned to the epoch (the
// count starts again at RateLimit-Reset).
type throttle struct {
	limit  int
	period time.Duration // as configured: what RateLimit-Limit is worked out from
	length time.Duration // as served: period divided by the rate scale
	window int64
	used   int
}

func newThrottle(limit int, period time.Duration, scale float64) *throttle {
	return &throttle{limit: limit, period: period, length: max(time.Duration(float64(period)/scale), time.Millisecond), window: -1}
}

func (t *throttle) roll(now time.Time) {
	if w := now.UnixNano() / int64(t.length); w != t.window {
		t.window, t.used = w, 0
	}
}

// take counts one request, or refuses it when the window is spent.
func (t *throttle) take(now time.Time) bool {
	t.roll(now)
	t.used++
	return t.used <= t.limit
}

func (t *throttle) reset() time.Time { return time.Unix(0, (t.window+1)*int64(t.length)) }

// headers are the ones GitLab documents on every throttled path's answer
// and, for a refused request, RateLimit-ResetTime and Retry-After.
func (t *throttle) headers(w http.ResponseWriter, now time.Time, refused bool) {
	h := w.Header()
	perMinute := int(math.Round(float64(t.limit) * float64(time.Minute) / float64(t.period)))
	h.Set("RateLimit-Name", "throttle_authenticated_api")
	h.Set("RateLimit-Limit", strconv.Itoa(max(perMinute, 1)))
	h.Set("RateLimit-Observed", strconv.Itoa(t.used))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(t.limit-t.used, 0)))
	reset := t.reset()
	h.Set("RateLimit-Reset", strconv.FormatInt(int64(math.Ceil(float64(reset.UnixNano())/1e9)), 10))
	if refused {
		h.Set("RateLimit-ResetTime", reset.UTC().Format(http.TimeFormat))
		h.Set("Retry-After", seconds(reset.Sub(now)))
	}
}

// seconds renders a wait as Retry-After delay-seconds: whole, at least 1.
func seconds(d time.Duration) string {
	return strconv.FormatInt(max(int64(math.Ceil(d.Seconds())), 1), 10)
}
