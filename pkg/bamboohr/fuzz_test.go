package bamboohr

import (
	"encoding/json"
	"testing"
	"time"
)

func FuzzDecodeEmployee(f *testing.F) {
	f.Add(readTestdata(f, "employee.json"))
	f.Add([]byte(`{"id": 1, "hireDate": "0000-00-00", "customX": {"value": null}}`))
	f.Add([]byte(`{"id": [1], "terminationDate": "2026-02-30"}`))
	f.Add([]byte(`<xml/>`))
	fm := fieldMap{custom: []string{"customX", "4047"}, contractEnd: "customContractEnd", timeZone: "customTimeZone"}
	f.Fuzz(func(t *testing.T, body []byte) {
		raw, err := decodeObject(body)
		if err != nil {
			return
		}
		e, err := decodeEmployee(raw, fm)
		if err != nil {
			return
		}
		for _, d := range []string{e.HireDate, e.TerminationDate, e.ContractEndDate} {
			if d == "" {
				continue
			}
			if _, perr := time.Parse(time.DateOnly, d); perr != nil || len(d) != 10 {
				t.Fatalf("date %q is not YYYY-MM-DD", d)
			}
		}
	})
}

func FuzzDecodeChanges(f *testing.F) {
	f.Add(readTestdata(f, "changed.json"))
	f.Add([]byte(`{"latest": null, "employees": []}`))
	f.Add([]byte(`{"employees": [{"id": {"value": 2}, "action": "x", "lastChanged": "2026-01-01"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ch, err := decodeChanges(body)
		if err != nil {
			return
		}
		for i := 1; i < len(ch.Employees); i++ {
			if compareIDs(ch.Employees[i-1].ID, ch.Employees[i].ID) > 0 {
				t.Fatalf("not sorted: %q before %q", ch.Employees[i-1].ID, ch.Employees[i].ID)
			}
		}
	})
}

func FuzzLenientString(f *testing.F) {
	for _, s := range []string{`"a"`, `1.5e3`, `null`, `true`, `{"value":{"value":"x"}}`, `[1,2]`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		if !json.Valid(v) {
			return
		}
		_ = lenientString(json.RawMessage(v))
	})
}
