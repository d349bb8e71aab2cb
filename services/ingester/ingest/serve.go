package ingest

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"keycard/pkg/opshttp"
)

// Listen opens the webhook listener and returns the server to run with
// opshttp.Serve. It is separate from Serve so callers can print the real
// address (addr may use port 0).
func Listen(addr string, h *Handler) (net.Listener, *http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle(Path, h) // every method, so the handler can answer 405 itself
	return opshttp.Listen(addr, mux)
}

// Serve runs the webhook server until ctx is done; in-flight deliveries get
// up to PublishTimeout plus a second to finish, so none is cut off between
// its PubAck and its 2xx.
func Serve(ctx context.Context, ln net.Listener, srv *http.Server, s Settings, log zerolog.Logger) error {
	log.Info().Str("url", "http://"+ln.Addr().String()+Path).Msg("accepting BambooHR webhooks")
	return opshttp.Serve(ctx, srv, ln, s.PublishTimeout+time.Second)
}
