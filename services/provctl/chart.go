package main

import (
	"fmt"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// drawActivity writes an SVG bar chart of the period's joiners, movers
// and leavers per app. It draws with vgsvg directly rather than
// plot.Save, which would link every output format (PDF, EPS, PNG) into
// provctl for one.
func drawActivity(path string, res activityResult) error {
	p := plot.New()
	p.Title.Text = "Keycard: joiners, movers and leavers applied, " + res.Period.Name
	p.Y.Label.Text = "people"
	p.Y.Min = 0
	apps := make([]string, len(res.Apps))
	series := []struct {
		name string
		vals plotter.Values
	}{{name: "joiners"}, {name: "movers"}, {name: "leavers"}}
	for i, a := range res.Apps {
		apps[i] = a.App
		series[0].vals = append(series[0].vals, float64(a.Joiners))
		series[1].vals = append(series[1].vals, float64(a.Movers))
		series[2].vals = append(series[2].vals, float64(a.Leavers))
	}
	if len(apps) == 0 {
		return fmt.Errorf("svg: no app had activity in %s and no --config lists any: nothing to draw", res.Period.Name)
	}
	width := vg.Points(14)
	for i, s := range series {
		bars, err := plotter.NewBarChart(s.vals, width)
		if err != nil {
			return fmt.Errorf("svg: %w", err)
		}
		bars.LineStyle.Width = 0
		bars.Color = plotutil.Color(i)
		bars.Offset = width * vg.Length(i-1)
		p.Add(bars)
		p.Legend.Add(s.name, bars)
	}
	p.Legend.Top = true
	p.NominalX(apps...)
	c := vgsvg.New(vg.Length(max(6, len(apps)*2))*vg.Inch, 4*vg.Inch)
	p.Draw(draw.New(c))
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("svg: %w", err)
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("svg %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("svg %s: %w", path, err)
	}
	return nil
}
