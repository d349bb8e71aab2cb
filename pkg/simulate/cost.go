package simulate

import (
	"maps"
	"slices"

	"keycard/pkg/policy"
)

// AppCost is one app's monthly seat cost, in the app's own currency.
type AppCost struct {
	Currency string `json:"currency"`
	// PerSeat is the monthly price of a seat (a yearly price / 12).
	PerSeat float64 `json:"per_seat_monthly"`
	Today   float64 `json:"today"` // SeatsToday × PerSeat
	After   float64 `json:"after"` // SeatsAfter × PerSeat
	Change  float64 `json:"change"`
}

// Costs are the plan's monthly totals. Prices are never converted
// between currencies: Totals has one line per currency, and only the
// budget's currency is set against the budget.
type Costs struct {
	Totals   []CurrencyTotal `json:"totals"`
	Unpriced []string        `json:"unpriced,omitempty"` // apps the config gives no seat price
	Budget   *Budget         `json:"budget,omitempty"`   // nil: the config sets none
}

// CurrencyTotal is every priced app in one currency.
type CurrencyTotal struct {
	Currency string   `json:"currency"`
	Apps     []string `json:"apps"`
	Today    float64  `json:"today"`
	After    float64  `json:"after"`
	Change   float64  `json:"change"`
}

// Budget sets the apps priced in the budget's currency against the
// company's monthly tool budget per employee (costs.budget_per_employee),
// for the people active now.
type Budget struct {
	Currency    string  `json:"currency"`
	PerEmployee float64 `json:"per_employee"`
	Employees   int     `json:"employees"`
	Total       float64 `json:"total"` // PerEmployee × Employees
	// Spent is the budget currency's total after the plan; SpentPerEmployee
	// it over Employees. Apps in other currencies are left out (see
	// Excluded), not converted.
	Spent            float64  `json:"spent"`
	SpentPerEmployee float64  `json:"spent_per_employee"`
	Over             bool     `json:"over"`
	Excluded         []string `json:"excluded,omitempty"` // apps priced in another currency
}

// costs prices each app's seats and adds them up per currency (the
// schema holds currencies to ISO 4217's upper-case codes, so equal codes
// are equal strings).
func costs(cfg *policy.Config, apps []AppPlan, active int) Costs {
	var out Costs
	totals := map[string]*CurrencyTotal{}
	for i := range apps {
		p := &apps[i]
		a, _ := cfg.App(p.App)
		if a.Seat == nil {
			out.Unpriced = append(out.Unpriced, p.App)
			continue
		}
		cur := a.Seat.Currency
		per := a.Seat.Monthly()
		p.Cost = &AppCost{Currency: cur, PerSeat: per, Today: float64(p.SeatsToday) * per, After: float64(p.SeatsAfter) * per}
		p.Cost.Change = p.Cost.After - p.Cost.Today
		t := totals[cur]
		if t == nil {
			t = &CurrencyTotal{Currency: cur}
			totals[cur] = t
		}
		t.Apps = append(t.Apps, p.App)
		t.Today += p.Cost.Today
		t.After += p.Cost.After
		t.Change += p.Cost.Change
	}
	for _, cur := range slices.Sorted(maps.Keys(totals)) {
		out.Totals = append(out.Totals, *totals[cur])
	}
	if c := cfg.Costs; c.BudgetPerEmployee > 0 {
		b := &Budget{Currency: c.Currency, PerEmployee: c.BudgetPerEmployee, Employees: active}
		b.Total = b.PerEmployee * float64(active)
		for _, t := range out.Totals {
			if t.Currency == b.Currency {
				b.Spent = t.After
			} else {
				b.Excluded = append(b.Excluded, t.Apps...)
			}
		}
		slices.Sort(b.Excluded)
		if active > 0 {
			b.SpentPerEmployee = b.Spent / float64(active)
		}
		b.Over = b.Spent > b.Total
		out.Budget = b
	}
	return out
}
