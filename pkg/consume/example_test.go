package consume_test

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"keycard/pkg/consume"
	"keycard/pkg/deadletter"
)

// job is a service's delivery: the runtime's, plus what the service reads
// from the message.
type job struct {
	*consume.Delivery
	name string
}

// A service wraps the runtime's Delivery in its own type, builds its chain
// from the shared middleware and runs it on its durables.
func Example() {
	ctx := context.Background()
	var js jetstream.JetStream // connected elsewhere
	dead := consume.DeadLetters[*job]{JS: js, MaxDeliver: 10, Now: time.Now,
		Letter: func(*job) deadletter.Letter {
			return deadletter.Letter{App: "jobs", Kind: "run", EmployeeKey: "none"}
		}}
	handle := func(ctx context.Context, j *job) error {
		j.Log.Debug().Str("job", j.name).Msg("running")
		j.Outcome = "done"
		return nil
	}
	p := consume.Pipeline[*job]{
		Handler: consume.Chain(handle, consume.Log[*job]("job", nil), dead.Middleware,
			consume.Retry[*job](5*time.Second), consume.Recover),
		Wrap:    func(d *consume.Delivery) *job { return &job{Delivery: d, name: d.Msg.Subject()} },
		Backoff: time.Second, MaxBackoff: 5 * time.Minute, MaxHandle: time.Minute, Log: zerolog.Nop(),
	}
	p.Run(ctx, consume.Durable{Name: "jobs", Slots: 8, Open: func(ctx context.Context) (jetstream.Consumer, error) {
		return js.CreateOrUpdateConsumer(ctx, "JOBS", jetstream.ConsumerConfig{Durable: "jobs", AckPolicy: jetstream.AckExplicitPolicy})
	}})
}
