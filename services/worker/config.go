package main

import (
	"keycard/pkg/service"
	"keycard/pkg/workers"
)

// config is the standalone worker's environment (embedded structs keep
// their variables' exact names).
type config struct {
	service.Base
	workers.Settings
}
