// Command benchnorm measures the normalizer's throughput for `make bench`:
// it fills HR_INBOX with N hire deliveries, lets the normalizer turn them
// into events against a fake BambooHR that answers at once (real HTTP on
// loopback), and reports employees/s as JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"keycard/pkg/bamboohr"
	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/normalize"
	"keycard/pkg/streams"
	"keycard/scripts/benchkit"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchnorm:", err)
		os.Exit(1)
	}
}

type result struct {
	Employees   int     `json:"employees"`
	Concurrency int     `json:"concurrency"`
	FillSeconds float64 `json:"fill_seconds"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"employees_per_s"`
	Events      uint64  `json:"events"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchnorm", flag.ContinueOnError)
	url := fs.String("nats", "", "NATS URL of a throwaway JetStream server: Keycard's streams there are deleted first (required)")
	n := fs.Int("employees", 5000, "hire deliveries to normalize")
	conc := fs.Int("concurrency", 16, "normalizer concurrency")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the normalizing phase to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" {
		return fmt.Errorf("-nats is required")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	nc, err := nats.Connect(*url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	// A throwaway server may hold an earlier section's streams (the
	// ingester's deliveries): start from empty ones.
	if err := benchkit.Reset(ctx, js); err != nil {
		return err
	}

	fake := bamboohrtest.New()
	defer fake.Close()
	for i := range *n {
		id := strconv.Itoa(100000 + i)
		fake.Put(bamboohrtest.Employee{ID: id, FirstName: "Bench", LastName: id, WorkEmail: "bench" + id + "@example.com",
			Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Engineering", JobTitle: "Engineer",
			Location: "Remote", HireDate: "2024-01-01"})
	}

	fillStart := time.Now()
	if err := fill(ctx, js, *n); err != nil {
		return err
	}
	fillSeconds := time.Since(fillStart).Seconds()
	fmt.Fprintf(stderr, "filled HR_INBOX with %d deliveries in %.2fs\n", *n, fillSeconds)

	cfg := fake.Config()
	api, err := bamboohr.New(cfg)
	if err != nil {
		return err
	}
	norm, err := normalize.New(ctx, js, api, normalize.Options{Concurrency: *conc}, zerolog.Nop(), prometheus.NewRegistry())
	if err != nil {
		return err
	}
	events, err := js.Stream(ctx, streams.Events)
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- norm.Run(runCtx) }()
	var got uint64
	for last := time.Now(); got < uint64(*n); time.Sleep(20 * time.Millisecond) {
		info, err := events.Info(ctx)
		if err != nil {
			stop()
			return err
		}
		got = info.State.Msgs
		if time.Since(last) > 2*time.Second {
			fmt.Fprintf(stderr, "normalized %d/%d\n", got, *n)
			last = time.Now()
		}
	}
	elapsed := time.Since(start)
	stop()
	if err := <-done; err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ") // one key per line, as bench.sh reads it
	return enc.Encode(result{
		Employees: *n, Concurrency: *conc, FillSeconds: fillSeconds, Seconds: elapsed.Seconds(),
		PerSecond: float64(*n) / elapsed.Seconds(), Events: got,
	})
}

// fill publishes n event-based hire deliveries, as the ingester stores them.
func fill(ctx context.Context, js jetstream.JetStream, n int) error {
	futures := make([]jetstream.PubAckFuture, 0, n)
	for i := range n {
		body := fmt.Sprintf(`{"type":"employee.created","timestamp":"2026-11-25T09:00:00Z","data":{"companyId":"1","employeeId":"%d"}}`, 100000+i)
		f, err := js.PublishAsync(streams.InboxSubject("bamboohr"), []byte(body), jetstream.WithMsgID(fmt.Sprint("bench-", i)))
		if err != nil {
			return err
		}
		futures = append(futures, f)
	}
	return benchkit.Await(ctx, js, futures)
}
