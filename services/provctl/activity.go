package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"keycard/pkg/event"
	"keycard/pkg/policy"
	"keycard/pkg/report"
	"keycard/pkg/streams"
	"keycard/pkg/worker"
)

// hrLookback is how long before the period HR_EVENTS is read for the
// start of a change applied in it: a dead-lettered joiner replayed weeks
// later still counts from when it took effect.
const hrLookback = 31 * 24 * time.Hour

// storeSkew is how far a stream's stored time may be from the worker's
// clock on the record: the period is read by stored time (a start-time
// consumer) this much wider, and cut by the record's own time.
const storeSkew = time.Hour

// activityResult is report activity's JSON document.
type activityResult struct {
	Period report.Period        `json:"period"`
	Apps   []report.AppActivity `json:"apps"`
}

// reportActivity counts, per app, the joiners, movers and leavers applied
// in a month, quarter or year, how long they took from the HR change to
// the app (AUDIT record time against HR_EVENTS effective time), the
// dead letters and the replays.
func (c *cli) reportActivity(ctx context.Context, g globals, args []string) error {
	var (
		month, quarter, year         string
		configPath, csvPath, svgPath string
		asJSON                       bool
	)
	fs := c.newFlagSet("report activity", "report activity (--month YYYY-MM | --quarter YYYY-Qn | --year YYYY) [--config FILE] [--csv FILE] [--svg FILE] [--json]", &g)
	fs.StringVar(&month, "month", "", "a calendar month, UTC: 2026-11")
	fs.StringVar(&quarter, "quarter", "", "a calendar quarter, UTC: 2026-Q4")
	fs.StringVar(&year, "year", "", "a calendar year, UTC: 2026")
	fs.StringVar(&configPath, "config", c.getenv(envConfig), "policy file: lists every app, critical first, even those with no activity (env KEYCARD_CONFIG)")
	fs.StringVar(&csvPath, "csv", "", "also write the figures to this CSV file")
	fs.StringVar(&svgPath, "svg", "", "also draw joiners, movers and leavers per app into this SVG file")
	fs.BoolVar(&asJSON, "json", false, "print one JSON document")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("report activity: unexpected argument %q", pos[0])
	}
	var p report.Period
	switch {
	case month != "" && quarter == "" && year == "":
		p, err = report.Month(month)
	case quarter != "" && month == "" && year == "":
		p, err = report.Quarter(quarter)
	case year != "" && month == "" && quarter == "":
		p, err = report.Year(year)
	default:
		return usageErrorf("report activity: pass one of --month, --quarter, --year")
	}
	if err != nil {
		return usageErrorf("report activity: %v", err)
	}
	var apps []string
	if configPath != "" {
		cfg, err := c.loadPolicy(configPath)
		if err != nil {
			return err
		}
		for _, a := range policy.ByTier(cfg.Apps) {
			apps = append(apps, a.Name)
		}
	}
	s, err := connect(g)
	if err != nil {
		return err
	}
	defer s.close()
	audit, err := s.read(ctx, streams.Audit, "audit.>", p.Start.Add(-storeSkew))
	if err != nil {
		return err
	}
	var records []worker.Record
	for _, m := range audit {
		if !m.Time.Before(p.End.Add(storeSkew)) {
			break // stored in time order: the rest is later
		}
		var r worker.Record
		if json.Unmarshal(m.Data, &r) != nil || r.App == "" {
			fmt.Fprintf(c.stderr, "warning: %s seq %d: not an audit record, left out\n", m.Stream, m.Seq)
			continue
		}
		records = append(records, r)
	}
	hr, err := s.read(ctx, streams.Events, "hr.employee.>", p.Start.Add(-hrLookback))
	if err != nil {
		return err
	}
	start := map[string]time.Time{}
	for _, m := range hr {
		if !m.Time.Before(p.End.Add(storeSkew)) {
			break
		}
		var e event.Event
		if json.Unmarshal(m.Data, &e) == nil && e.ID != "" {
			start[e.ID] = e.TookEffect()
		}
	}
	res := activityResult{Period: p, Apps: report.Activity(p, apps, records, start)}
	if csvPath != "" {
		if err := writeActivityCSV(csvPath, res); err != nil {
			return err
		}
	}
	if svgPath != "" {
		if err := drawActivity(svgPath, res); err != nil {
			return err
		}
	}
	if asJSON {
		return writeJSON(c.stdout, res)
	}
	fmt.Fprintf(c.stdout, "%s (%s to %s, UTC)\n\n", p.Name, p.Start.Format(time.DateOnly), p.End.Add(-time.Second).Format(time.DateOnly))
	t := newTable(c.stdout, "APP", "JOINERS", "MOVERS", "LEAVERS", "ACCESS P50", "P95", "MAX", "REVOKE P50", "P95", "MAX", "FAILURES", "REPLAYS", "RE-EVALUATED")
	for _, a := range res.Apps {
		t.row(append(append(append([]string{a.App, strconv.Itoa(a.Joiners), strconv.Itoa(a.Movers), strconv.Itoa(a.Leavers)},
			latencyCells(a.Access)...), latencyCells(a.Revoke)...),
			strconv.Itoa(a.Failures), strconv.Itoa(a.Replays), strconv.Itoa(a.Reevaluations))...)
	}
	return t.flush()
}

func latencyCells(l report.Latency) []string {
	if l.N == 0 {
		return []string{"-", "-", "-"}
	}
	return []string{round(l.P50).String(), round(l.P95).String(), round(l.Max).String()}
}

// round keeps a duration readable: whole seconds from a minute up.
func round(d time.Duration) time.Duration {
	if d >= time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

// activityCSVHeader names the CSV columns; durations are in seconds.
var activityCSVHeader = []string{"period", "app", "joiners", "movers", "leavers",
	"access_n", "access_p50_seconds", "access_p95_seconds", "access_max_seconds",
	"revoke_n", "revoke_p50_seconds", "revoke_p95_seconds", "revoke_max_seconds",
	"failures", "replays", "reevaluations"}

func writeActivityCSV(path string, res activityResult) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("csv: %w", err)
	}
	w := csv.NewWriter(f)
	_ = w.Write(activityCSVHeader)
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
	lat := func(l report.Latency) []string {
		return []string{strconv.Itoa(l.N), secs(l.P50), secs(l.P95), secs(l.Max)}
	}
	for _, a := range res.Apps {
		row := append(append(append([]string{res.Period.Name, a.App, strconv.Itoa(a.Joiners), strconv.Itoa(a.Movers), strconv.Itoa(a.Leavers)},
			lat(a.Access)...), lat(a.Revoke)...), strconv.Itoa(a.Failures), strconv.Itoa(a.Replays), strconv.Itoa(a.Reevaluations))
		_ = w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("csv %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("csv %s: %w", path, err)
	}
	return nil
}
