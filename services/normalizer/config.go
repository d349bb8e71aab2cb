package main

import (
	"keycard/pkg/normalize"
	"keycard/pkg/service"
)

// config is the standalone normalizer's environment (embedded structs keep
// their variables' exact names).
type config struct {
	service.Base
	normalize.Settings
}
