package main

import (
	"time"

	"keycard/services/ingester/ingest"
)

// config is the standalone ingester's environment.
type config struct {
	ingest.Settings               // embedded so its variables keep their exact names
	HTTPAddr        string        `envconfig:"KEYCARD_HTTP_ADDR" default:":8080"`
	MetricsAddr     string        `envconfig:"KEYCARD_METRICS_ADDR" default:":9090"`
	NATSURL         string        `envconfig:"NATS_URL" required:"true"`
	StreamReplicas  int           `envconfig:"KEYCARD_STREAM_REPLICAS" default:"1"`
	InboxDuplicates time.Duration `envconfig:"KEYCARD_INBOX_DEDUP_WINDOW" default:"6h"`
	LogLevel        string        `envconfig:"KEYCARD_LOG_LEVEL" default:"info"`
	LogFormat       string        `envconfig:"KEYCARD_LOG_FORMAT" default:"json"`
}
