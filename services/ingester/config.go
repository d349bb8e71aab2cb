package main

import (
	"keycard/pkg/ingest"
	"keycard/pkg/service"
)

// config is the standalone ingester's environment (embedded structs keep
// their variables' exact names).
type config struct {
	service.Base
	ingest.Settings
	HTTPAddr string `envconfig:"KEYCARD_HTTP_ADDR" default:":8080"`
}
