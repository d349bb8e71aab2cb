package normalize

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"keycard/pkg/bamboohr"
	"keycard/pkg/normalize/poll"
)

// Settings are the normalizer's environment variables; the single binary
// and the standalone normalizer read the same ones.
type Settings struct {
	APIKey           string   `envconfig:"BAMBOOHR_API_KEY"`
	Company          string   `envconfig:"BAMBOOHR_COMPANY"`
	APIURL           string   `envconfig:"BAMBOOHR_API_URL"`
	CustomFields     []string `envconfig:"BAMBOOHR_CUSTOM_FIELDS"`
	ContractEndField string   `envconfig:"BAMBOOHR_CONTRACT_END_FIELD"`
	TimeZoneField    string   `envconfig:"BAMBOOHR_TIME_ZONE_FIELD"`

	TimeZone           string   `envconfig:"KEYCARD_TIME_ZONE" default:"UTC"`
	JoinerTime         string   `envconfig:"KEYCARD_JOINER_TIME" default:"00:00"`
	LeaverTime         string   `envconfig:"KEYCARD_LEAVER_TIME" default:"18:00"`
	ContractorStatuses []string `envconfig:"KEYCARD_CONTRACTOR_STATUSES" default:"Contractor,Contract,Freelance"`
	Concurrency        int      `envconfig:"KEYCARD_NORMALIZER_CONCURRENCY" default:"16"`
	MaxDeliver         int      `envconfig:"KEYCARD_NORMALIZER_MAX_DELIVER" default:"20"`
	// AckWait is how soon a delivery a killed normalizer was handling
	// comes back. A handling renews it between its BambooHR retries, but
	// one call may take the client's whole timeout: under a minute it
	// can be handled twice (harmless: the event's id and the snapshot's
	// revision make it once).
	AckWait       time.Duration `envconfig:"KEYCARD_NORMALIZER_ACK_WAIT" default:"1m"`
	PollInterval  time.Duration `envconfig:"KEYCARD_POLL_INTERVAL" default:"5m"`
	SweepInterval time.Duration `envconfig:"KEYCARD_SWEEP_INTERVAL" default:"24h"`
}

// Configured says whether a BambooHR tenant is set. Without one, the
// single binary still stores deliveries; they are normalized once it is.
func (s Settings) Configured() bool {
	return s.APIKey != "" && (s.Company != "" || s.APIURL != "")
}

// Serve runs the normalizer and its poller until ctx is done.
func Serve(ctx context.Context, js jetstream.JetStream, s Settings, replicas int, log zerolog.Logger, reg prometheus.Registerer) error {
	if !s.Configured() {
		return errors.New("BambooHR API is not configured: set BAMBOOHR_API_KEY and BAMBOOHR_COMPANY (or BAMBOOHR_API_URL)")
	}
	zone, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return fmt.Errorf("KEYCARD_TIME_ZONE=%q: %w", s.TimeZone, err)
	}
	api, err := bamboohr.New(bamboohr.Config{
		Company: s.Company, BaseURL: s.APIURL, APIKey: s.APIKey, CustomFields: s.CustomFields,
		ContractEndField: s.ContractEndField, TimeZoneField: s.TimeZoneField,
	})
	if err != nil {
		return err
	}
	n, err := New(ctx, js, api, Options{
		Replicas: replicas, DefaultZone: zone, ContractorStatuses: s.ContractorStatuses,
		JoinerTime: s.JoinerTime, LeaverTime: s.LeaverTime, Concurrency: s.Concurrency, MaxDeliver: s.MaxDeliver,
		AckWait: s.AckWait,
	}, log, reg)
	if err != nil {
		return err
	}
	p, err := poll.New(poll.Config{Interval: s.PollInterval, SweepInterval: s.SweepInterval, BucketReplicas: replicas},
		api, js, n, log.With().Str("component", "poller").Logger(), reg)
	if err != nil {
		return err
	}
	log.Info().Str("company", s.Company).Str("time_zone", zone.String()).Dur("poll_interval", s.PollInterval).
		Dur("sweep_interval", s.SweepInterval).Msg("normalizing BambooHR deliveries")
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.Run(gctx) })
	g.Go(func() error { return p.Run(gctx) })
	return g.Wait()
}
