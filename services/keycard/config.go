package main

import (
	"fmt"
	"time"

	"keycard/pkg/ingest"
	"keycard/pkg/normalize"
	"keycard/pkg/service"
	"keycard/pkg/workers"
)

// Aliases give the two embedded Settings distinct field names.
type (
	IngestSettings     = ingest.Settings
	NormalizerSettings = normalize.Settings
	WorkerSettings     = workers.Settings
)

// config is the single binary's environment; README.md lists every
// variable with its default. Embedded structs keep their variables' exact
// names, shared with the standalone services.
type config struct {
	service.Base
	IngestSettings
	NormalizerSettings
	WorkerSettings

	HTTPAddr string `envconfig:"KEYCARD_HTTP_ADDR" default:":8080"`
	DataDir  string `envconfig:"KEYCARD_DATA_DIR" default:"./data"`
	// NATSListen exposes the embedded server to provctl and the nats CLI;
	// loopback only by default, empty for in-process connections only.
	NATSListen string `envconfig:"KEYCARD_NATS_LISTEN" default:"127.0.0.1:4222"`
	// NATSSync is "always" (fsync before every PubAck: an accepted webhook
	// survives a power loss) or an fsync interval such as "2m" (faster;
	// survives a process crash but not a power loss).
	NATSSync string `envconfig:"KEYCARD_NATS_SYNC" default:"always"`
	// Demo serves a fake BambooHR with sample people (make demo).
	Demo bool `envconfig:"KEYCARD_DEMO"`
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
