package ingest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"keycard/pkg/bamboohr/webhook"
	"keycard/pkg/event"
	"keycard/pkg/opshttp"
	"keycard/pkg/streams"
)

// Path is where BambooHR posts.
const Path = "/webhooks/bamboohr"

// Source names BambooHR in subjects and ids.
const Source = event.SourceBambooHR

// Headers stored with each delivery besides event's Keycard-* ones.
const (
	HeaderReceivedAt    = "Keycard-Received-At"
	HeaderCompanyDomain = "Keycard-Company-Domain"
)

// Publisher is the part of jetstream.JetStream the handler uses.
type Publisher interface {
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// Handler serves POST /webhooks/bamboohr.
type Handler struct {
	settings Settings
	verifier webhook.Verifier
	js       Publisher
	log      zerolog.Logger
	metrics  *meters
	slots    chan struct{} // bounds concurrent deliveries
	now      func() time.Time
}

// New returns a Handler. now is the clock used for the timestamp window.
func New(s Settings, js Publisher, log zerolog.Logger, reg prometheus.Registerer, now func() time.Time) *Handler {
	return &Handler{
		settings: s,
		verifier: webhook.Verifier{Key: []byte(s.WebhookKey), MaxAge: s.MaxAge, MaxFuture: s.MaxFuture, Now: now},
		js:       js,
		log:      log,
		metrics:  newMetrics(reg),
		slots:    make(chan struct{}, s.MaxInFlight),
		now:      now,
	}
}

// reply is one request's result, logged and counted in one place.
type reply struct {
	status    int
	outcome   string
	err       error // shown to the client; never holds a secret
	msgID     string
	employees int
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	h.metrics.inFlight.Inc()
	defer h.metrics.inFlight.Dec()

	rep := h.handle(w, r)

	h.metrics.requests.WithLabelValues(rep.outcome).Inc()
	h.metrics.duration.Observe(time.Since(start).Seconds())
	switch {
	case rep.status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(int(h.settings.RetryAfter.Seconds())))
		fallthrough
	case rep.err != nil:
		opshttp.WriteJSON(w, rep.status, map[string]string{"error": rep.err.Error()})
	default:
		opshttp.WriteJSON(w, rep.status, map[string]any{
			"status": "accepted", "id": rep.msgID, "duplicate": rep.outcome == outcomeDuplicate, "employees": rep.employees,
		})
	}
	ev := h.log.Info()
	if rep.status >= 400 {
		ev = h.log.Warn().AnErr("reason", rep.err)
	}
	ev.Str("method", r.Method).Str("path", r.URL.Path).Str("remote", r.RemoteAddr).
		Int("status", rep.status).Str("outcome", rep.outcome).Str("msg_id", rep.msgID).
		Int("employees", rep.employees).Dur("duration", time.Since(start)).Msg("webhook")
}

func (h *Handler) handle(w http.ResponseWriter, r *http.Request) reply {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return reply{status: http.StatusMethodNotAllowed, outcome: outcomeBadMethod, err: errors.New("only POST is allowed")}
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		return reply{status: http.StatusServiceUnavailable, outcome: outcomeOverloaded, err: errors.New("too many deliveries in flight, retry later")}
	}

	body, rep, ok := h.readBody(w, r)
	if !ok {
		return rep
	}
	if !h.settings.InsecureSkipVerify {
		err := h.verifier.Verify(body, r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature))
		if err != nil {
			return reply{status: http.StatusUnauthorized, outcome: outcomeUnauthorized, err: err}
		}
	}
	d, err := webhook.Decode(body)
	if err != nil {
		return reply{status: http.StatusBadRequest, outcome: outcomeBadRequest, err: err}
	}

	msg := h.inboxMsg(r, body, d)
	ctx, cancel := context.WithTimeout(r.Context(), h.settings.PublishTimeout)
	defer cancel()
	pubStart := time.Now()
	ack, err := h.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(streams.Inbox))
	h.metrics.publish.Observe(time.Since(pubStart).Seconds())
	id := msg.Header.Get(jetstream.MsgIDHeader)
	if err != nil {
		h.log.Error().Err(err).Str("msg_id", id).Msg("publish to HR_INBOX")
		return reply{status: http.StatusServiceUnavailable, outcome: outcomeUnavailable, msgID: id,
			err: errors.New("could not store the delivery, retry later")}
	}
	rep = reply{status: http.StatusAccepted, outcome: outcomeAccepted, msgID: id, employees: len(d.Changes)}
	if ack.Duplicate {
		rep.outcome = outcomeDuplicate
	} else {
		h.metrics.employees.Add(float64(len(d.Changes)))
	}
	return rep
}

// readBody reads at most MaxBodyBytes, answering 413 past that.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, reply, bool) {
	tooLarge := reply{status: http.StatusRequestEntityTooLarge, outcome: outcomeTooLarge,
		err: errors.New("body exceeds " + strconv.FormatInt(h.settings.MaxBodyBytes, 10) + " bytes")}
	if r.ContentLength > h.settings.MaxBodyBytes {
		return nil, tooLarge, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.settings.MaxBodyBytes))
	h.metrics.bodyBytes.Observe(float64(len(body)))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return nil, tooLarge, false
	case err != nil:
		return nil, reply{status: http.StatusBadRequest, outcome: outcomeBadRequest, err: errors.New("could not read the body")}, false
	}
	return body, reply{}, true
}

// inboxMsg builds the HR_INBOX message: the raw body, untouched, with a
// dedup id derived from the body alone. A BambooHR retry of the same
// delivery has the same body (even if re-signed with a new timestamp), so
// it is stored once.
func (h *Handler) inboxMsg(r *http.Request, body []byte, d webhook.Delivery) *nats.Msg {
	sum := sha256.Sum256(body)
	id := Source + ":" + hex.EncodeToString(sum[:])
	received := h.now().UTC()
	occurred := received
	for _, c := range d.Changes {
		if !c.Timestamp.IsZero() && c.Timestamp.Before(occurred) {
			occurred = c.Timestamp.UTC()
		}
	}
	msg := nats.NewMsg(streams.InboxSubject(Source))
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, id)
	msg.Header.Set(event.HeaderEventID, id)
	msg.Header.Set(event.HeaderKind, d.Type)
	msg.Header.Set(event.HeaderOccurredAt, occurred.Format(time.RFC3339Nano))
	msg.Header.Set(HeaderReceivedAt, received.Format(time.RFC3339Nano))
	msg.Header.Set(event.HeaderTraceparent, traceparent(r.Header.Get("traceparent")))
	if cd := r.Header.Get("company-domain"); validDomain.MatchString(cd) {
		msg.Header.Set(HeaderCompanyDomain, cd)
	}
	return msg
}

var (
	validDomain      = regexp.MustCompile(`^[A-Za-z0-9-]{1,63}$`)
	validTraceparent = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`)
)

// traceparent keeps a valid incoming W3C trace context or starts a new one,
// so one delivery can be followed through every stage.
func traceparent(in string) string {
	if validTraceparent.MatchString(in) {
		return in
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "00-" + hex.EncodeToString(b[:16]) + "-" + hex.EncodeToString(b[16:]) + "-01"
}
