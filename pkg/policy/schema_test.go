package policy

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"testing"
	"time"

	"keycard/pkg/connector/registry"
	"keycard/pkg/scim"
)

// canonicalSchema is the workspace copy that the embedded one must equal.
const canonicalSchema = "../../schemas/keycard-config.v1.json"

func TestSchemaCopyMatchesCanonical(t *testing.T) {
	t.Parallel()
	canonical, err := os.ReadFile(canonicalSchema)
	if err != nil {
		t.Fatalf("read canonical schema: %v", err)
	}
	if !bytes.Equal(canonical, schemaJSON) {
		t.Fatalf("pkg/policy/schema/keycard-config.v1.json differs from schemas/keycard-config.v1.json; " +
			"edit the latter and copy it: cp schemas/keycard-config.v1.json pkg/policy/schema/")
	}
	if _, err := compiledSchema(); err != nil {
		t.Fatalf("compile schema: %v", err)
	}
}

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
	if err := json.Unmarshal(schemaJSON, &doc); err != nil {
		t.Fatalf("decode schema: %v", err)
	}
	if doc.ID != SchemaID {
		t.Errorf("$id = %q, want SchemaID %q", doc.ID, SchemaID)
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

func TestSchemaAccessor(t *testing.T) {
	t.Parallel()
	s := Schema()
	s[0] = 'x'
	if !bytes.Equal(Schema(), schemaJSON) || schemaJSON[0] == 'x' {
		t.Fatal("Schema returned the embedded slice, not a copy")
	}
}
