package policy

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"keycard/pkg/connector/registry"
	"keycard/pkg/scim"
	"keycard/schemas"
)

// TestSchemaMatchesGo fails when the schema's $id, modes and defaults
// drift from the Go constants.
func TestSchemaMatchesGo(t *testing.T) {
	t.Parallel()
	type prop struct {
		Enum       []string        `json:"enum"`
		Default    json.RawMessage `json:"default"`
		Properties map[string]prop `json:"properties"`
	}
	var doc struct {
		ID   string `json:"$id"`
		Defs struct {
			App prop `json:"app"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(schemas.Config.JSON(), &doc); err != nil {
		t.Fatalf("decode schema: %v", err)
	}
	app := doc.Defs.App.Properties
	if want := []string{ModeApply, ModeDryRun}; !slices.Equal(app["mode"].Enum, want) {
		t.Errorf("mode enum = %v, want %v", app["mode"].Enum, want)
	}
	rl, guard := app["rate_limit"].Properties, app["guard"].Properties
	window, err := time.ParseDuration(schemaDefault[string](t, guard["window"].Default))
	if err != nil || window != DefaultWindow {
		t.Errorf("default window = %v (%v), want %v", window, err, DefaultWindow)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"writes_per_minute", schemaDefault[int](t, rl["writes_per_minute"].Default), registry.DefaultWritesPerMinute},
		{"burst", schemaDefault[int](t, rl["burst"].Default), registry.DefaultBurst},
		{"adaptive", schemaDefault[bool](t, rl["adaptive"].Default), scim.Factory{}.Pace(registry.App{Settings: map[string]string{"profile": "generic"}}).Adaptive},
		{"max_deactivations", schemaDefault[int](t, guard["max_deactivations"].Default), DefaultMaxDeactivations},
		{"max_share", schemaDefault[float64](t, guard["max_share"].Default), DefaultMaxShare},
	} {
		if tc.got != tc.want {
			t.Errorf("schema default of %s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func schemaDefault[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Errorf("decode default %s: %v", raw, err)
	}
	return v
}
