// Package report is the arithmetic of Keycard's provisioning reports
// after roll-out: what the apps' seats cost against what the policy
// entitles people to (Seats), and how many joiners, movers and leavers
// each app served in a month and how fast (Activity). It reads nothing
// itself: provctl gathers the employees snapshot, the reconcile reports
// and the streams, so the figures can be tested from plain values.
package report

import (
	"cmp"
	"slices"
	"time"

	"keycard/pkg/connector/registry"
	"keycard/pkg/policy"
)

// AppSeats is what is known of one app's seats.
type AppSeats struct {
	App  string
	Tier string
	// Seat is the app's price; nil when the file gives none (the app's
	// money columns stay empty rather than read as free).
	Seat *policy.Seat
	// Deactivated is whether the vendor bills a deactivated account
	// (registry.Billing).
	Deactivated registry.Seat
	// Entitled is how many people active in HR today the policy grants an
	// account in the app.
	Entitled int
	// Accounts are the app's accounts as its last reconcile listed them;
	// nil when it has none (a simulated app, or no reconcile yet).
	Accounts *Accounts
}

// Accounts are the counts of one reconcile report.
type Accounts struct {
	At     time.Time
	Total  int // accounts listed, active or not
	Active int
	// Orphans are active accounts matched to nobody in HR.
	Orphans int
}

// SeatLine is one app's row of the seat report. Money is per month in
// Currency; the account figures are meaningful only when Known.
type SeatLine struct {
	App      string    `json:"app"`
	Tier     string    `json:"tier"`
	Entitled int       `json:"entitled"`
	Known    bool      `json:"accounts_known"`
	AsOf     time.Time `json:"accounts_as_of,omitzero"`
	Active   int       `json:"active"`
	// Deactivated accounts, and of them those the vendor still bills
	// (0 where it frees the seat or its billing is not documented).
	Deactivated       int    `json:"deactivated"`
	BilledDeactivated int    `json:"billed_deactivated"`
	DeactivatedSeat   string `json:"deactivated_seat"` // billed, freed or unknown
	Orphans           int    `json:"orphans"`

	Priced      bool    `json:"priced"`
	Currency    string  `json:"currency,omitempty"`
	SeatMonthly float64 `json:"seat_monthly,omitempty"`
	// EntitledMonthly is what the policy's accounts cost: entitled ×
	// seat, known without listing the app.
	EntitledMonthly float64 `json:"entitled_monthly,omitempty"`
	// BilledMonthly is what the vendor bills: (active + billed
	// deactivated) × seat, where the accounts are known.
	BilledMonthly float64 `json:"billed_monthly,omitempty"`
	// SavableMonthly is the billed deactivated seats: money a clean-up
	// (deleting the accounts, removing the seats) saves every month.
	SavableMonthly float64 `json:"savable_monthly,omitempty"`
}

// Total is the priced apps' sum in one currency.
type Total struct {
	Currency string  `json:"currency"`
	Entitled float64 `json:"entitled_monthly"`
	Billed   float64 `json:"billed_monthly"`
	Savable  float64 `json:"savable_monthly"`
	// Unknown are the apps priced in this currency whose accounts are not
	// known: Billed leaves them out.
	Unknown []string `json:"accounts_unknown,omitempty"`
}

// Budget is costs.budget_per_employee × headcount set against the total
// in the budget's currency. Totals in other currencies are not
// converted: they are listed apart in Seats.Totals.
type Budget struct {
	Currency    string  `json:"currency"`
	PerEmployee float64 `json:"per_employee"`
	Headcount   int     `json:"headcount"`
	Amount      float64 `json:"amount_monthly"`
	Entitled    float64 `json:"entitled_monthly"`
	Billed      float64 `json:"billed_monthly"`
	// Left is Amount − Billed: negative when the apps cost more than the
	// budget.
	Left float64 `json:"left_monthly"`
}

// Seats is the whole seat report.
type Seats struct {
	Headcount int        `json:"headcount"`
	Lines     []SeatLine `json:"apps"`
	Totals    []Total    `json:"totals"`
	Budget    *Budget    `json:"budget,omitempty"`
	// Unpriced are the apps the file gives no seat price.
	Unpriced []string `json:"unpriced,omitempty"`
}

// SeatReport computes the report: per app and per currency, and the
// budget when costs sets one. headcount is the people active in HR today.
func SeatReport(costs policy.Costs, headcount int, apps []AppSeats) Seats {
	out := Seats{Headcount: headcount}
	totals := map[string]*Total{}
	for _, a := range apps {
		l := SeatLine{App: a.App, Tier: a.Tier, Entitled: a.Entitled, DeactivatedSeat: a.Deactivated.String()}
		if acc := a.Accounts; acc != nil {
			l.Known, l.AsOf, l.Active, l.Orphans = true, acc.At, acc.Active, acc.Orphans
			l.Deactivated = acc.Total - acc.Active
			if a.Deactivated == registry.SeatBilled {
				l.BilledDeactivated = l.Deactivated
			}
		}
		if a.Seat == nil {
			out.Unpriced = append(out.Unpriced, a.App)
			out.Lines = append(out.Lines, l)
			continue
		}
		price := a.Seat.Monthly()
		l.Priced, l.Currency, l.SeatMonthly = true, a.Seat.Currency, price
		l.EntitledMonthly = float64(l.Entitled) * price
		t := totals[l.Currency]
		if t == nil {
			t = &Total{Currency: l.Currency}
			totals[l.Currency] = t
		}
		t.Entitled += l.EntitledMonthly
		if l.Known {
			l.BilledMonthly = float64(l.Active+l.BilledDeactivated) * price
			l.SavableMonthly = float64(l.BilledDeactivated) * price
			t.Billed += l.BilledMonthly
			t.Savable += l.SavableMonthly
		} else {
			t.Unknown = append(t.Unknown, l.App)
		}
		out.Lines = append(out.Lines, l)
	}
	for _, t := range totals {
		out.Totals = append(out.Totals, *t)
	}
	slices.SortFunc(out.Totals, func(a, b Total) int { return cmp.Compare(a.Currency, b.Currency) })
	if costs.BudgetPerEmployee > 0 {
		cur := costs.Currency
		if cur == "" && len(out.Totals) == 1 {
			cur = out.Totals[0].Currency // one currency only: nothing to confuse it with
		}
		b := &Budget{Currency: cur, PerEmployee: costs.BudgetPerEmployee, Headcount: headcount,
			Amount: costs.BudgetPerEmployee * float64(headcount)}
		if i := slices.IndexFunc(out.Totals, func(t Total) bool { return t.Currency == cur }); i >= 0 {
			b.Entitled, b.Billed = out.Totals[i].Entitled, out.Totals[i].Billed
		}
		b.Left = b.Amount - b.Billed
		out.Budget = b
	}
	return out
}
