package main

import (
	"fmt"
	"time"

	"keycard/services/ingester/ingest"
)

// config is the single binary's environment; README.md lists every
// variable with its default.
type config struct {
	ingest.Settings // embedded so its variables keep their exact names

	HTTPAddr    string `envconfig:"KEYCARD_HTTP_ADDR" default:":8080"`
	MetricsAddr string `envconfig:"KEYCARD_METRICS_ADDR" default:":9090"`
	DataDir     string `envconfig:"KEYCARD_DATA_DIR" default:"./data"`
	// NATSURL switches from the embedded server to an external one.
	NATSURL string `envconfig:"NATS_URL"`
	// NATSListen exposes the embedded server to provctl and the nats CLI;
	// loopback only by default, empty for in-process connections only.
	NATSListen string `envconfig:"KEYCARD_NATS_LISTEN" default:"127.0.0.1:4222"`
	// NATSSync is "always" (fsync before every PubAck: an accepted webhook
	// survives a power loss) or an fsync interval such as "2m" (faster;
	// survives a process crash but not a power loss).
	NATSSync        string        `envconfig:"KEYCARD_NATS_SYNC" default:"always"`
	StreamReplicas  int           `envconfig:"KEYCARD_STREAM_REPLICAS" default:"1"`
	InboxDuplicates time.Duration `envconfig:"KEYCARD_INBOX_DEDUP_WINDOW" default:"6h"`
	LogLevel        string        `envconfig:"KEYCARD_LOG_LEVEL" default:"info"`
	LogFormat       string        `envconfig:"KEYCARD_LOG_FORMAT" default:"json"`
}

// syncMode parses NATSSync.
func (c config) syncMode() (always bool, interval time.Duration, err error) {
	if c.NATSSync == "always" {
		return true, 0, nil
	}
	d, err := time.ParseDuration(c.NATSSync)
	if err != nil || d <= 0 {
		return false, 0, fmt.Errorf("KEYCARD_NATS_SYNC=%q: want \"always\" or a positive duration such as 2m", c.NATSSync)
	}
	return false, d, nil
}
