package report

import (
	"reflect"
	"testing"
	"time"

	"keycard/pkg/connector/registry"
	"keycard/pkg/policy"
)

func TestSeatReport(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	usdMonth := &policy.Seat{Price: 8.75, Currency: "USD", Per: policy.SeatPerMonth}
	usdYear := &policy.Seat{Price: 48, Currency: "USD", Per: policy.SeatPerYear} // 4 a month
	eurMonth := &policy.Seat{Price: 12, Currency: "EUR"}                         // per defaults to month
	tests := []struct {
		name       string
		costs      policy.Costs
		headcount  int
		apps       []AppSeats
		wantLines  []SeatLine
		wantTotals []Total
		wantBudget *Budget
		unpriced   []string
	}{
		{
			name: "monthly seat, deactivated freed", headcount: 10,
			apps: []AppSeats{{App: "slack", Tier: "critical", Seat: usdMonth, Deactivated: registry.SeatFreed, Entitled: 10,
				Accounts: &Accounts{At: at, Total: 14, Active: 11, Orphans: 1}}},
			wantLines: []SeatLine{{App: "slack", Tier: "critical", Entitled: 10, Known: true, AsOf: at, Active: 11, Deactivated: 3,
				DeactivatedSeat: "freed", Orphans: 1, Priced: true, Currency: "USD", SeatMonthly: 8.75,
				EntitledMonthly: 87.5, BilledMonthly: 96.25}},
			wantTotals: []Total{{Currency: "USD", Entitled: 87.5, Billed: 96.25}},
		},
		{
			name: "yearly seat, deactivated still billed", headcount: 6,
			apps: []AppSeats{{App: "google", Tier: "critical", Seat: usdYear, Deactivated: registry.SeatBilled, Entitled: 6,
				Accounts: &Accounts{At: at, Total: 9, Active: 6}}},
			wantLines: []SeatLine{{App: "google", Tier: "critical", Entitled: 6, Known: true, AsOf: at, Active: 6, Deactivated: 3,
				BilledDeactivated: 3, DeactivatedSeat: "billed", Priced: true, Currency: "USD", SeatMonthly: 4,
				EntitledMonthly: 24, BilledMonthly: 36, SavableMonthly: 12}},
			wantTotals: []Total{{Currency: "USD", Entitled: 24, Billed: 36, Savable: 12}},
		},
		{
			name: "accounts unknown: entitled only, billed left out and named", headcount: 5,
			apps: []AppSeats{{App: "pipedrive", Tier: "standard", Seat: usdMonth, Deactivated: registry.SeatBilled, Entitled: 4}},
			wantLines: []SeatLine{{App: "pipedrive", Tier: "standard", Entitled: 4, DeactivatedSeat: "billed",
				Priced: true, Currency: "USD", SeatMonthly: 8.75, EntitledMonthly: 35}},
			wantTotals: []Total{{Currency: "USD", Entitled: 35, Unknown: []string{"pipedrive"}}},
		},
		{
			name: "budget in one currency, the other reported apart", headcount: 20,
			costs: policy.Costs{BudgetPerEmployee: 10, Currency: "USD"},
			apps: []AppSeats{
				{App: "slack", Seat: usdMonth, Deactivated: registry.SeatFreed, Entitled: 20, Accounts: &Accounts{At: at, Total: 20, Active: 20}},
				{App: "miro", Seat: eurMonth, Deactivated: registry.SeatUnknown, Entitled: 5, Accounts: &Accounts{At: at, Total: 7, Active: 5}},
				{App: "discord", Deactivated: registry.SeatFreed, Entitled: 20},
			},
			wantLines: []SeatLine{
				{App: "slack", Entitled: 20, Known: true, AsOf: at, Active: 20, DeactivatedSeat: "freed", Priced: true, Currency: "USD",
					SeatMonthly: 8.75, EntitledMonthly: 175, BilledMonthly: 175},
				// Miro's billing of deactivated accounts is not documented:
				// only the active ones are counted as billed.
				{App: "miro", Entitled: 5, Known: true, AsOf: at, Active: 5, Deactivated: 2, DeactivatedSeat: "unknown", Priced: true, Currency: "EUR",
					SeatMonthly: 12, EntitledMonthly: 60, BilledMonthly: 60},
				{App: "discord", Entitled: 20, DeactivatedSeat: "freed"},
			},
			wantTotals: []Total{{Currency: "EUR", Entitled: 60, Billed: 60}, {Currency: "USD", Entitled: 175, Billed: 175}},
			wantBudget: &Budget{Currency: "USD", PerEmployee: 10, Headcount: 20, Amount: 200, Entitled: 175, Billed: 175, Left: 25},
			unpriced:   []string{"discord"},
		},
		{
			name: "over budget", headcount: 2,
			costs: policy.Costs{BudgetPerEmployee: 5, Currency: "USD"},
			apps: []AppSeats{{App: "google", Seat: usdYear, Deactivated: registry.SeatBilled, Entitled: 2,
				Accounts: &Accounts{At: at, Total: 4, Active: 2}}},
			wantLines: []SeatLine{{App: "google", Entitled: 2, Known: true, AsOf: at, Active: 2, Deactivated: 2, BilledDeactivated: 2,
				DeactivatedSeat: "billed", Priced: true, Currency: "USD", SeatMonthly: 4, EntitledMonthly: 8, BilledMonthly: 16, SavableMonthly: 8}},
			wantTotals: []Total{{Currency: "USD", Entitled: 8, Billed: 16, Savable: 8}},
			wantBudget: &Budget{Currency: "USD", PerEmployee: 5, Headcount: 2, Amount: 10, Entitled: 8, Billed: 16, Left: -6},
		},
		{
			name: "budget without a currency and seats in two: nothing compared", headcount: 3,
			costs: policy.Costs{BudgetPerEmployee: 5},
			apps: []AppSeats{
				{App: "slack", Seat: usdMonth, Entitled: 1},
				{App: "miro", Seat: eurMonth, Entitled: 1},
			},
			wantLines: []SeatLine{
				{App: "slack", Entitled: 1, DeactivatedSeat: "unknown", Priced: true, Currency: "USD", SeatMonthly: 8.75, EntitledMonthly: 8.75},
				{App: "miro", Entitled: 1, DeactivatedSeat: "unknown", Priced: true, Currency: "EUR", SeatMonthly: 12, EntitledMonthly: 12},
			},
			wantTotals: []Total{{Currency: "EUR", Entitled: 12, Unknown: []string{"miro"}}, {Currency: "USD", Entitled: 8.75, Unknown: []string{"slack"}}},
			wantBudget: &Budget{PerEmployee: 5, Headcount: 3, Amount: 15, Left: 15},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := SeatReport(tt.costs, tt.headcount, tt.apps)
			if !reflect.DeepEqual(got.Lines, tt.wantLines) {
				t.Errorf("lines\n got %+v\nwant %+v", got.Lines, tt.wantLines)
			}
			if !reflect.DeepEqual(got.Totals, tt.wantTotals) {
				t.Errorf("totals\n got %+v\nwant %+v", got.Totals, tt.wantTotals)
			}
			if !reflect.DeepEqual(got.Budget, tt.wantBudget) {
				t.Errorf("budget\n got %+v\nwant %+v", got.Budget, tt.wantBudget)
			}
			if !reflect.DeepEqual(got.Unpriced, tt.unpriced) {
				t.Errorf("unpriced = %v, want %v", got.Unpriced, tt.unpriced)
			}
		})
	}
}
