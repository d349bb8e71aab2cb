package ingest

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"keycard/pkg/opshttp"
)

// Start opens the webhook listener and returns the function that serves it
// until ctx is done. In-flight deliveries then get up to PublishTimeout
// plus a second to finish, so none is cut off between its PubAck and its
// 2xx.
func Start(addr string, s Settings, js Publisher, log zerolog.Logger, reg prometheus.Registerer, now func() time.Time) (func(context.Context) error, error) {
	if s.InsecureSkipVerify {
		log.Warn().Msg("KEYCARD_INSECURE_SKIP_VERIFY is set: webhook signatures are NOT checked")
	}
	mux := http.NewServeMux()
	mux.Handle(Path, New(s, js, log, reg, now)) // every method, so the handler can answer 405 itself
	ln, srv, err := opshttp.Listen(addr, mux, s.Timeouts)
	if err != nil {
		return nil, err
	}
	log.Info().Str("url", "http://"+ln.Addr().String()+Path).Msg("accepting BambooHR webhooks")
	return func(ctx context.Context) error {
		return opshttp.Serve(ctx, srv, ln, s.PublishTimeout+time.Second)
	}, nil
}
