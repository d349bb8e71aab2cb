package simulate

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"keycard/pkg/bamboohr"
	"keycard/pkg/connectors"
	"keycard/pkg/event"
	"keycard/pkg/policy"
)

const costConfig = `
apps:
  - {name: monthly, type: dryrun, seat: {price: 12, currency: USD, per: month}}
  - {name: yearly, type: dryrun, seat: {price: 120, currency: USD, per: year}}
  - {name: euro, type: dryrun, seat: {price: 5, currency: EUR}}
  - {name: free, type: dryrun}
costs: {budget_per_employee: 10, currency: USD}
policy:
  birthright: {monthly: {}, yearly: {}, euro: {}, free: {}}
`

// TestCosts: 3 active people get a seat in every app. monthly: 3 × 12 =
// 36 USD; yearly: 120 / 12 = 10 a month, × 3 = 30 USD; euro: 3 × 5 = 15
// EUR, a currency of its own; free has no
// price. Budget: 10 USD × 3 = 30 USD against the USD total 66: over, euro
// excluded rather than converted.
func TestCosts(t *testing.T) {
	t.Parallel()
	cfg, err := policy.Parse("cost.yaml", []byte(costConfig), connectors.Registry())
	if err != nil {
		t.Fatal(err)
	}
	var people []event.Employee
	for i := range 3 {
		people = append(people, event.Employee{ID: fmt.Sprint(i + 1), WorkEmail: fmt.Sprintf("p%d@example.com", i+1), Status: event.StatusActive})
	}
	res, err := Run(context.Background(), Input{People: people, Config: cfg, Types: connectors.Registry(), Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"monthly": "USD 12.00 36.00", "yearly": "USD 10.00 30.00", "euro": "EUR 5.00 15.00", "free": "<nil>"}
	for _, a := range res.Apps {
		got := "<nil>"
		if a.Cost != nil {
			got = fmt.Sprintf("%s %.2f %.2f", a.Cost.Currency, a.Cost.PerSeat, a.Cost.After)
		}
		if got != want[a.App] {
			t.Errorf("%s: %s, want %s", a.App, got, want[a.App])
		}
	}
	if got := fmt.Sprint(res.Costs.Totals); got != "[{EUR [euro] 0 15 15} {USD [monthly yearly] 0 66 66}]" {
		t.Errorf("totals %s", got)
	}
	if fmt.Sprint(res.Costs.Unpriced) != "[free]" {
		t.Errorf("unpriced %v", res.Costs.Unpriced)
	}
	b := res.Costs.Budget
	if b == nil || b.Total != 30 || b.Spent != 66 || !b.Over || b.SpentPerEmployee != 22 || fmt.Sprint(b.Excluded) != "[euro]" {
		t.Errorf("budget %+v", b)
	}
}

func TestReadAccounts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want, err string
	}{
		{"all columns", "ID,Email,username,active,groups,teams,channels,roles\n" +
			"U1,a@x.com,a,false,g1; g2,t1,,r1\nU2,b@x.com,b,,,,c1,\n",
			"[{U1  a a@x.com false map[] map[group:[g1 g2] role:[r1] team:[t1]]} {U2  b b@x.com true map[] map[channel:[c1]]}]", ""},
		{"short rows", "id,email\nU1\n", "[{U1    true map[] map[]}]", ""},
		{"unknown column", "id,group\n", "", `unknown column "group"`},
		{"no id column", "email\n", "", "no id column"},
		{"empty id", "id,email\n,a@x.com\n", "", "line 2: no id"},
		{"bad active", "id,active\nU1,maybe\n", "", "line 2: active"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := readAccounts(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := fmt.Sprint(got); s != tc.want {
				t.Errorf("got  %s\nwant %s", s, tc.want)
			}
		})
	}
}

// TestReadHR reads the same two people from each shape an export can
// take, decoded by the BambooHR client's rules (numbers as text,
// "0000-00-00" as no date, a missing status as active).
func TestReadHR(t *testing.T) {
	t.Parallel()
	fields := bamboohr.Config{CustomFields: []string{"customCostCenter"}}
	want := "1 Ada ada@x.com Engineering Active 2024-01-02  FIN1|2 Bo  Sales Inactive  2025-01-31 "
	for _, tc := range []struct{ name, in string }{
		{"csv", "\ufeffid,firstName,workEmail,department,status,hireDate,terminationDate,customCostCenter\n" +
			"1,Ada,ada@x.com,Engineering,,2024-01-02,0000-00-00,FIN1\n2,Bo,,Sales,Inactive,,2025-01-31,\n"},
		{"json array", `[{"id":1,"firstName":"Ada","workEmail":"ada@x.com","department":"Engineering","hireDate":"2024-01-02T00:00:00+00:00","terminationDate":"0000-00-00","customCostCenter":"FIN1"},
			{"id":"2","firstName":"Bo","workEmail":null,"department":{"value":"Sales"},"status":"Inactive","terminationDate":"2025-01-31","customCostCenter":""}]`},
		{"report shape", `{"title":"export","fields":[{"id":"firstName"}],"employees":[{"id":1,"firstName":"Ada","workEmail":"ada@x.com","department":"Engineering","hireDate":"2024-01-02","customCostCenter":"FIN1"},
			{"id":2,"firstName":"Bo","department":"Sales","status":"Inactive","terminationDate":"2025-01-31","customCostCenter":null}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var progress bytes.Buffer
			p := NewProgress(&progress, "people read", time.Now)
			got, err := ReadHR(strings.NewReader(tc.in), fields, p)
			if err != nil {
				t.Fatal(err)
			}
			p.Done()
			var rows []string
			for _, e := range got {
				rows = append(rows, strings.Join([]string{e.ID, e.FirstName, e.WorkEmail, e.Department, e.Status, e.HireDate, e.TerminationDate, e.Custom["customCostCenter"]}, " "))
			}
			if s := strings.Join(rows, "|"); s != want {
				t.Errorf("got  %q\nwant %q", s, want)
			}
			if !strings.HasPrefix(progress.String(), "2 people read in ") {
				t.Errorf("progress %q", progress.String())
			}
		})
	}
	for _, bad := range []string{"", "id,firstName\n,Ada\n", "firstName\nAda\n", `[{"id":1,"hireDate":"01/02/2024"}]`, `{"employees":3}`} {
		if _, err := ReadHR(strings.NewReader(bad), fields, nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzReadHR(f *testing.F) {
	f.Add("id,firstName,hireDate\n1,Ada,2024-01-02\n")
	f.Add(`[{"id":1,"status":"Inactive"}]`)
	f.Add(`{"employees":[{"id":"x"}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ReadHR(strings.NewReader(in), bamboohr.Config{}, nil)
		if err != nil {
			return
		}
		for _, e := range got {
			if e.ID == "" || e.Status == "" {
				t.Fatalf("record without id or status accepted: %+v", e)
			}
		}
	})
}

func FuzzReadAccounts(f *testing.F) {
	f.Add("id,email,active,groups\nU1,a@x.com,true,a;b\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := readAccounts(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, a := range got {
			if a.ID == "" {
				t.Fatalf("account without id accepted: %+v", a)
			}
		}
	})
}
