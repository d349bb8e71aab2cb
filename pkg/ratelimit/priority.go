package ratelimit

import "context"

// Priority orders waiters on one key: High waiters take the next token
// before any Normal waiter. A termination is High (a leaver must lose
// access within seconds, whatever joiner backlog the app has), everything
// else Normal.
type Priority int

const (
	Normal Priority = iota
	High
)

type priorityKey struct{}

// WithPriority returns ctx carrying p, so every read and write paced
// through an app's Limiter under ctx (the worker's pace hook, the SCIM
// client's read pacing, a connector pacing itself) waits in p's lane.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityFrom is the Priority ctx carries; Normal if none.
func PriorityFrom(ctx context.Context) Priority {
	p, _ := ctx.Value(priorityKey{}).(Priority)
	return p
}
