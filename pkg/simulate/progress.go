package simulate

import (
	"fmt"
	"io"
	"time"
)

// Progress writes a line every Every items and one at the end, with the
// rate so far, so a large tenant or file shows it is moving. A nil
// *Progress does nothing.
type Progress struct {
	w     io.Writer
	what  string // "people read"
	every int
	now   func() time.Time
	start time.Time
	n     int
}

// NewProgress reports to w (stderr) every 1,000 items of what.
func NewProgress(w io.Writer, what string, now func() time.Time) *Progress {
	return &Progress{w: w, what: what, every: 1000, now: now, start: now()}
}

// Add counts n more items.
func (p *Progress) Add(n int) {
	if p == nil {
		return
	}
	for range n {
		p.n++
		if p.n%p.every == 0 {
			p.line("")
		}
	}
}

// Done writes the final line.
func (p *Progress) Done() {
	if p != nil {
		p.line(", done")
	}
}

func (p *Progress) line(suffix string) {
	took := p.now().Sub(p.start)
	rate := 0.0
	if took > 0 {
		rate = float64(p.n) / took.Seconds()
	}
	fmt.Fprintf(p.w, "%d %s in %s (%.0f/s)%s\n", p.n, p.what, took.Round(time.Millisecond), rate, suffix)
}
