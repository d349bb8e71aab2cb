// Command loadgen drives signed BambooHR webhooks at the ingester for
// `make bench` (scripts/bench.sh). It prints one flat JSON object on
// stdout so the script can read it with plain text tools.
//
//	loadgen closed -url U -key K [-concurrency 16] [-n 200000] [-duration 10s]
//	loadgen open   -url U -key K [-rate 1000] [-duration 10s]
//	loadgen ports  N             # N free loopback TCP ports, one a line
//	loadgen wait   -url U        # poll until U answers 2xx
//
// closed: a closed loop of -concurrency workers, each sending its next
// request as soon as the previous one is answered, until -n requests or
// -duration (whichever comes first). Reports accepted/s and latency.
//
// open: an open loop at a fixed -rate. Request i is due at start+i/rate;
// its latency is measured from that intended send time, not from when a
// worker got round to sending it, so a stalled server cannot hide its
// stall by slowing the sender down (coordinated omission).
//
// Every body is unique (the ingester dedups on sha256(body)) and signed
// before the timed loop. A response counts as an error unless it is 202
// with "status":"accepted" and "duplicate":false.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"keycard/pkg/bamboohr/webhook"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "closed":
		err = runClosed(os.Args[2:])
	case "open":
		err = runOpen(os.Args[2:])
	case "ports":
		err = runPorts(os.Args[2:])
	case "wait":
		err = runWait(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: loadgen closed|open|ports|wait [flags]")
	os.Exit(2)
}

// common are the flags both load modes share.
type common struct {
	url     string
	key     string
	runID   string
	warmup  int
	timeout time.Duration
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "url", "", "webhook URL, e.g. http://127.0.0.1:8080/webhooks/bamboohr")
	fs.StringVar(&c.key, "key", "", "webhook signing key")
	fs.StringVar(&c.runID, "run-id", "", "prefix that makes employee ids unique across runs (default: random)")
	fs.IntVar(&c.warmup, "warmup", 500, "requests sent (and checked) before timing starts")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "per-request timeout")
}

func (c *common) check() error {
	if c.url == "" || c.key == "" {
		return errors.New("-url and -key are required")
	}
	if c.runID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		c.runID = hex.EncodeToString(b[:])
	}
	return nil
}

// request is one pre-signed delivery.
type request struct {
	body []byte
	ts   string
	sig  string
}

// presign builds n unique signed bodies named <runID>-<phase>-<i>.
func presign(key []byte, runID, phase string, n int) []request {
	now := time.Now().UTC()
	ts := strconv.FormatInt(now.Unix(), 10)
	at := now.Format(time.RFC3339)
	out := make([]request, n)
	for i := range out {
		body := fmt.Appendf(nil,
			`{"type":"employee.updated","timestamp":%q,"data":{"companyId":"1","employeeId":"%s-%s-%d","changedFields":["jobTitle"]}}`,
			at, runID, phase, i)
		out[i] = request{body: body, ts: ts, sig: webhook.Sign(key, body, ts)}
	}
	return out
}

func newClient(conns int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:               nil, // loopback only; never through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// answer is the part of the ingester's 202 body that is checked.
type answer struct {
	Status    string `json:"status"`
	ID        string `json:"id"`
	Duplicate bool   `json:"duplicate"`
}

// send posts one request and returns "" on success, else an error class.
func send(ctx context.Context, c *http.Client, url string, r request) (class string, detail string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(r.body))
	if err != nil {
		return "request", err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderTimestamp, r.ts)
	req.Header.Set(webhook.HeaderSignature, r.sig)
	resp, err := c.Do(req)
	if err != nil {
		return "transport", err.Error()
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if err != nil {
		return "transport", err.Error()
	}
	if resp.StatusCode != http.StatusAccepted {
		return "status_" + strconv.Itoa(resp.StatusCode), string(bytes.TrimSpace(body))
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return "bad_json", string(body)
	}
	if a.Duplicate {
		return "duplicate", a.ID
	}
	if a.Status != "accepted" || a.ID == "" {
		return "bad_answer", string(body)
	}
	return "", ""
}

// tally collects outcomes from many goroutines.
type tally struct {
	mu      sync.Mutex
	errors  map[string]int
	samples []string
}

func (t *tally) add(class, detail string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.errors == nil {
		t.errors = map[string]int{}
	}
	t.errors[class]++
	if len(t.samples) < 5 {
		if len(detail) > 200 {
			detail = detail[:200]
		}
		t.samples = append(t.samples, class+": "+detail)
	}
}

func (t *tally) total() int {
	n := 0
	for _, v := range t.errors {
		n += v
	}
	return n
}

// warm sends n requests at the given concurrency; any failure aborts the
// run, because then the figures would be meaningless.
func warm(c *http.Client, o common, conc int) error {
	if o.warmup <= 0 {
		return nil
	}
	reqs := presign([]byte(o.key), o.runID, "warm", o.warmup)
	var next atomic.Int64
	var t tally
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(reqs) {
					return
				}
				if class, detail := send(context.Background(), c, o.url, reqs[i]); class != "" {
					t.add(class, detail)
				}
			}
		})
	}
	wg.Wait()
	if n := t.total(); n > 0 {
		return fmt.Errorf("warm-up: %d of %d requests failed, e.g. %v", n, len(reqs), t.samples)
	}
	return nil
}

// result is the JSON printed on stdout. It stays flat (one key a line
// when indented) so a shell script can read it without jq.
type result struct {
	Mode         string  `json:"mode"`
	Concurrency  int     `json:"concurrency"`
	TargetRate   float64 `json:"target_rate,omitempty"`
	Sent         int     `json:"sent"`
	Accepted     int     `json:"accepted"`
	Errors       int     `json:"errors"`
	Non2xx       int     `json:"non_2xx"`
	Duplicates   int     `json:"duplicates"`
	ElapsedS     float64 `json:"elapsed_s"`
	AcceptedPerS float64 `json:"accepted_per_s"`
	AchievedRate float64 `json:"achieved_rate"`
	P50Ms        float64 `json:"p50_ms"`
	P90Ms        float64 `json:"p90_ms"`
	P99Ms        float64 `json:"p99_ms"`
	P999Ms       float64 `json:"p999_ms"`
	MaxMs        float64 `json:"max_ms"`
	// Open loop only: latency from the actual send (service time), and how
	// late the scheduler handed requests to workers.
	ServiceP50Ms   float64        `json:"service_p50_ms,omitempty"`
	ServiceP99Ms   float64        `json:"service_p99_ms,omitempty"`
	MaxSendLagMs   float64        `json:"max_send_lag_ms,omitempty"`
	SendWindowS    float64        `json:"send_window_s,omitempty"`
	StoppedBy      string         `json:"stopped_by,omitempty"`
	ErrorClasses   map[string]int `json:"error_classes"`
	ErrorSamples   []string       `json:"error_samples"`
	PresignSeconds float64        `json:"presign_s"`
}

func (r *result) fill(lat []time.Duration, t *tally, elapsed time.Duration) {
	r.Errors = t.total()
	r.Accepted = r.Sent - r.Errors
	r.ElapsedS = round(elapsed.Seconds(), 3)
	if elapsed > 0 {
		r.AcceptedPerS = round(float64(r.Accepted)/elapsed.Seconds(), 1)
		r.AchievedRate = round(float64(r.Sent)/elapsed.Seconds(), 1)
	}
	for class, n := range t.errors {
		switch {
		case class == "duplicate":
			r.Duplicates += n
		case len(class) > 7 && class[:7] == "status_":
			r.Non2xx += n
		}
	}
	r.ErrorClasses = t.errors
	if r.ErrorClasses == nil {
		r.ErrorClasses = map[string]int{}
	}
	r.ErrorSamples = t.samples
	if r.ErrorSamples == nil {
		r.ErrorSamples = []string{}
	}
	slices.Sort(lat)
	r.P50Ms = ms(pct(lat, 50))
	r.P90Ms = ms(pct(lat, 90))
	r.P99Ms = ms(pct(lat, 99))
	r.P999Ms = ms(pct(lat, 99.9))
	if len(lat) > 0 {
		r.MaxMs = ms(lat[len(lat)-1])
	}
}

// pct is the nearest-rank percentile of sorted d.
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	i = max(0, min(i, len(d)-1))
	return d[i]
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

func round(v float64, places int) float64 {
	f := math.Pow(10, float64(places))
	return math.Round(v*f) / f
}

func emit(r result) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func runClosed(args []string) error {
	fs := flag.NewFlagSet("closed", flag.ExitOnError)
	var o common
	o.register(fs)
	conc := fs.Int("concurrency", 16, "concurrent senders")
	n := fs.Int("n", 200000, "requests to send at most (all pre-signed)")
	dur := fs.Duration("duration", 10*time.Second, "stop after this long even if -n is not reached (0: no limit)")
	_ = fs.Parse(args)
	if err := o.check(); err != nil {
		return err
	}
	if *conc <= 0 || *n <= 0 {
		return errors.New("-concurrency and -n must be positive")
	}
	c := newClient(*conc, o.timeout)
	if err := warm(c, o, *conc); err != nil {
		return err
	}
	t0 := time.Now()
	reqs := presign([]byte(o.key), o.runID, "closed", *n)
	res := result{Mode: "closed", Concurrency: *conc, PresignSeconds: round(time.Since(t0).Seconds(), 3)}

	var deadline time.Time
	var next atomic.Int64
	var t tally
	lats := make([][]time.Duration, *conc)
	var wg sync.WaitGroup
	start := time.Now()
	if *dur > 0 {
		deadline = start.Add(*dur)
	}
	for w := range *conc {
		lats[w] = make([]time.Duration, 0, *n / *conc + 1)
		wg.Go(func() {
			for {
				if !deadline.IsZero() && time.Now().After(deadline) {
					return
				}
				i := int(next.Add(1) - 1)
				if i >= len(reqs) {
					return
				}
				s := time.Now()
				class, detail := send(context.Background(), c, o.url, reqs[i])
				lats[w] = append(lats[w], time.Since(s))
				if class != "" {
					t.add(class, detail)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	res.Sent = len(all)
	res.StoppedBy = "count"
	if res.Sent < len(reqs) {
		res.StoppedBy = "duration"
	}
	res.fill(all, &t, elapsed)
	return emit(res)
}

func runOpen(args []string) error {
	fs := flag.NewFlagSet("open", flag.ExitOnError)
	var o common
	o.register(fs)
	rate := fs.Float64("rate", 1000, "requests per second")
	dur := fs.Duration("duration", 10*time.Second, "how long to send")
	workers := fs.Int("workers", 128, "senders (an upper bound on requests in flight)")
	_ = fs.Parse(args)
	if err := o.check(); err != nil {
		return err
	}
	if *rate <= 0 || *dur <= 0 || *workers <= 0 {
		return errors.New("-rate, -duration and -workers must be positive")
	}
	total := int(*rate * dur.Seconds())
	c := newClient(*workers, o.timeout)
	if err := warm(c, o, min(*workers, 16)); err != nil {
		return err
	}
	t0 := time.Now()
	reqs := presign([]byte(o.key), o.runID, "open", total)
	res := result{Mode: "open", Concurrency: *workers, TargetRate: *rate, PresignSeconds: round(time.Since(t0).Seconds(), 3)}

	type job struct {
		i   int
		due time.Time
	}
	// The queue holds every request, so the scheduler never blocks on
	// busy workers: a request that waits for one waits on the clock.
	jobs := make(chan job, total)
	lat := make([]time.Duration, total)
	svc := make([]time.Duration, total)
	var t tally
	var wg sync.WaitGroup
	for range *workers {
		wg.Go(func() {
			for j := range jobs {
				s := time.Now()
				class, detail := send(context.Background(), c, o.url, reqs[j.i])
				end := time.Now()
				lat[j.i] = end.Sub(j.due)
				svc[j.i] = end.Sub(s)
				if class != "" {
					t.add(class, detail)
				}
			}
		})
	}
	interval := time.Duration(float64(time.Second) / *rate)
	start := time.Now()
	var maxLag time.Duration
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		} else if -d > maxLag {
			maxLag = -d
		}
		jobs <- job{i: i, due: due}
	}
	res.SendWindowS = round(time.Since(start).Seconds(), 3)
	close(jobs)
	wg.Wait()
	res.Sent = total
	res.MaxSendLagMs = ms(maxLag)
	// Rates run to the last answer, so a server that falls behind shows
	// a rate below the target even though every request was sent on time.
	res.fill(lat, &t, time.Since(start))
	slices.Sort(svc)
	res.ServiceP50Ms = ms(pct(svc, 50))
	res.ServiceP99Ms = ms(pct(svc, 99))
	return emit(res)
}

// runPorts prints N distinct free loopback ports. All listeners stay open
// until every port is chosen, so the N are distinct.
func runPorts(args []string) error {
	n := 1
	if len(args) > 0 {
		v, err := strconv.Atoi(args[0])
		if err != nil || v <= 0 {
			return fmt.Errorf("bad port count %q", args[0])
		}
		n = v
	}
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer ln.Close()
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	}
	return nil
}

// runWait polls -url until it answers 2xx or -timeout passes.
func runWait(args []string) error {
	fs := flag.NewFlagSet("wait", flag.ExitOnError)
	url := fs.String("url", "", "URL to poll")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after")
	_ = fs.Parse(args)
	if *url == "" {
		return errors.New("-url is required")
	}
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	deadline := time.Now().Add(*timeout)
	var last string
	for time.Now().Before(deadline) {
		resp, err := c.Get(*url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s: %s", *url, *timeout, last)
}
