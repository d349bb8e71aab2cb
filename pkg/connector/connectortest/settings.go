package connectortest

import (
	"errors"
	"slices"
	"testing"

	"keycard/pkg/connector/registry"
)

// SettingsCase is one app's settings and the keys Validate must find a
// problem with (nil: none), in the order reported.
type SettingsCase struct {
	Name     string
	Settings map[string]string
	Bad      []string
}

// CheckSettings runs f.Validate on each case as app and checks every
// problem is a *registry.SettingError naming exactly the case's keys.
func CheckSettings(t *testing.T, f registry.Factory, app string, cases []SettingsCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			err := f.Validate(registry.App{Name: app, Settings: tc.Settings})
			var keys []string
			for _, e := range joined(err) {
				se, ok := errors.AsType[*registry.SettingError](e)
				if !ok {
					t.Fatalf("problem %v is no *SettingError", e)
				}
				keys = append(keys, se.Key)
			}
			if !slices.Equal(keys, tc.Bad) && (len(keys) > 0 || len(tc.Bad) > 0) {
				t.Errorf("Validate = %v; want problems with %v", err, tc.Bad)
			}
		})
	}
}

// joined is err's parts when it is an errors.Join, else err alone.
func joined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
