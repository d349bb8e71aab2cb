package main

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"os"
	"strconv"
	"time"
)

// The report's page. The charts are inline SVG drawn by the template, not
// a chart library: go-echarts (in the module proxy, v2.6.7) renders
// charts with echarts.min.js fetched from a CDN when the page is opened,
// and this report must open offline and travel as one file (mailed to
// finance, attached to a ticket); a few horizontal bars per app need no
// script at all.
//
//go:embed templates/simulate.html
var templates embed.FS

var simulatePage = template.Must(template.New("simulate.html").Funcs(template.FuncMap{
	"money": money, "signed": signed, "join": joinOrDash,
}).ParseFS(templates, "templates/simulate.html"))

// Geometry of a chart: a label column, then bars up to barWidth long.
const (
	chartLabelWidth = 110
	chartBarWidth   = 220
	chartRow        = 20
)

type chartBar struct {
	Label, Text, Color string
	Value              float64
	Y, TextY, Length   int
	ValueX             int
}

type chart struct {
	App    string
	Height int
	Bars   []chartBar
}

// simulationPage is what the template renders.
type simulationPage struct {
	simulateReport
	At         string
	Charts     []chart
	Width      int
	LabelWidth int
}

// charts draws, per app, the accounts created, kept and deactivated (and
// orphans left alone), then the monthly cost now and after: counts and
// money are scaled apart, each against its own largest bar.
func charts(rep simulateReport) []chart {
	var out []chart
	for _, a := range rep.Apps {
		c := chart{App: a.App}
		counts := []chartBar{
			{Label: "created", Value: float64(a.Create + a.Reactivate), Color: "#2e7d32"},
			{Label: "kept", Value: float64(a.Keep), Color: "#1565c0"},
			{Label: "deactivated", Value: float64(a.Deactivate()), Color: "#c62828"},
			{Label: "orphans", Value: float64(a.Orphans), Color: "#f9a825"},
		}
		for i := range counts {
			counts[i].Text = strconv.Itoa(int(counts[i].Value))
		}
		c.Bars = append(c.Bars, scale(counts)...)
		if a.Cost != nil {
			cost := []chartBar{
				{Label: "cost now", Value: a.Cost.Today, Text: money(a.Cost.Today, a.Cost.Currency), Color: "#757575"},
				{Label: "cost after", Value: a.Cost.After, Text: money(a.Cost.After, a.Cost.Currency), Color: "#424242"},
			}
			c.Bars = append(c.Bars, scale(cost)...)
		}
		for i := range c.Bars {
			b := &c.Bars[i]
			b.Y = 24 + i*chartRow
			b.TextY = b.Y + 12
			b.ValueX = chartLabelWidth + b.Length + 6
		}
		c.Height = 24 + len(c.Bars)*chartRow + 4
		out = append(out, c)
	}
	return out
}

func scale(bars []chartBar) []chartBar {
	top := 0.0
	for _, b := range bars {
		top = max(top, b.Value)
	}
	for i := range bars {
		if top > 0 {
			bars[i].Length = int(bars[i].Value / top * chartBarWidth)
		}
	}
	return bars
}

// writeSimulationHTML renders the report to path (html/template: every
// name from HR or the config is escaped).
func writeSimulationHTML(path string, rep simulateReport) error {
	var buf bytes.Buffer
	page := simulationPage{simulateReport: rep, At: rep.Summary.At.Format(time.RFC3339), Charts: charts(rep),
		Width: chartLabelWidth + chartBarWidth + 120, LabelWidth: chartLabelWidth}
	if err := simulatePage.Execute(&buf, page); err != nil {
		return fmt.Errorf("render %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
