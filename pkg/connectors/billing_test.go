package connectors_test

import (
	"testing"

	"keycard/pkg/connector/registry"
	"keycard/pkg/connectors"
)

// TestDeactivatedSeat pins what the seat report believes about each
// vendor's billing of a deactivated account, as the README's
// supported-apps table documents it.
func TestDeactivatedSeat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		typ     string
		profile string
		want    registry.Seat
	}{
		{name: "google suspended is billed", typ: "google", want: registry.SeatBilled},
		{name: "pipedrive inactive is billed", typ: "pipedrive", want: registry.SeatBilled},
		{name: "slack deactivated is free", typ: "scim", profile: "slack", want: registry.SeatFreed},
		{name: "atlassian deactivated is free", typ: "scim", profile: "atlassian", want: registry.SeatFreed},
		{name: "notion removed is free", typ: "scim", profile: "notion", want: registry.SeatFreed},
		{name: "gitlab blocked is free", typ: "gitlab", want: registry.SeatFreed},
		{name: "github removed is free", typ: "github", want: registry.SeatFreed},
		{name: "discord is free", typ: "discord", want: registry.SeatFreed},
		{name: "miro undocumented", typ: "scim", profile: "miro", want: registry.SeatUnknown},
		{name: "generic scim undocumented", typ: "scim", want: registry.SeatUnknown},
		{name: "dryrun simulated", typ: registry.TypeDryRun, want: registry.SeatUnknown},
	}
	reg := connectors.Registry()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, ok := reg.Lookup(tt.typ)
			if !ok {
				t.Fatalf("no type %q", tt.typ)
			}
			app := registry.App{Name: "x", Settings: map[string]string{}}
			if tt.profile != "" {
				app.Settings["profile"] = tt.profile
			}
			if got := registry.DeactivatedSeat(f, app); got != tt.want {
				t.Errorf("DeactivatedSeat = %s, want %s", got, tt.want)
			}
		})
	}
}
