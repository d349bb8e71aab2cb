package event

import (
	"sync"
	"time"
)

// Zones resolves the IANA zone names snapshots carry, loading each once:
// time.LoadLocation reads the zone database from disk on every call, and
// "today in the person's zone" is asked for every event. Safe for
// concurrent use; the zero value falls back to UTC.
type Zones struct {
	// Fallback is used for an empty or unknown name; nil means UTC.
	Fallback *time.Location

	mu    sync.Mutex
	cache map[string]*time.Location
}

// Get returns the zone called name, or the fallback.
func (z *Zones) Get(name string) *time.Location {
	fallback := z.Fallback
	if fallback == nil {
		fallback = time.UTC
	}
	if name == "" {
		return fallback
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if loc, ok := z.cache[name]; ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		// Not cached: names come from HR, and a cache of every wrong one
		// would grow without bound; the zone database bounds the right ones.
		return fallback
	}
	if z.cache == nil {
		z.cache = map[string]*time.Location{}
	}
	z.cache[name] = loc
	return loc
}

// Today is the date ("YYYY-MM-DD") at now in e's time zone: the day
// StateOn is asked about.
func (z *Zones) Today(e Employee, now time.Time) string {
	return now.In(z.Get(e.TimeZone)).Format(time.DateOnly)
}
