package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/bamboohr/bamboohrtest"
	"keycard/pkg/scim/scimtest"
	"keycard/pkg/streams"
	"keycard/pkg/worker"
)

// proc is the single binary run as its own process.
type proc struct {
	cmd        *exec.Cmd
	webhookURL chan string
	natsURL    chan string  // set when KEYCARD_NATS_LISTEN is
	tookOver   atomic.Int32 // leases taken over from the previous run
}

// startBinary runs bin with env and reports the webhook URL it logs.
func startBinary(t *testing.T, bin string, env []string) *proc {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = env
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, webhookURL: make(chan string, 1), natsURL: make(chan string, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["message"] == "took over a lease left by this instance's previous run" {
				p.tookOver.Add(1)
			}
			if u, ok := m["nats"].(string); ok && m["message"] == "embedded NATS JetStream ready" && u != "" {
				p.natsURL <- u
			}
			if m["message"] == "accepting BambooHR webhooks" {
				if u, ok := m["url"].(string); ok {
					p.webhookURL <- u
				}
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return p
}

func (p *proc) url(t *testing.T) string {
	t.Helper()
	select {
	case u := <-p.webhookURL:
		return u
	case <-time.After(20 * time.Second):
		t.Fatal("the binary did not start")
		return ""
	}
}

// Issue 15: 200 joiners flood the single binary, which is killed with
// SIGKILL once an eighth of them are created and restarted on the same data. Nothing is lost or
// doubled, and everyone converges within 10 s of the restart: the restart
// takes over the leases its dead run left (same data directory, same
// instance id) instead of waiting them out.
func TestSIGKILLMidFloodResumes(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "keycard")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	const people = 200
	fake := bamboohrtest.New()
	defer fake.Close()
	for i := range people {
		id := fmt.Sprint(5000 + i)
		fake.Put(bamboohrtest.Employee{ID: id, FirstName: "P", LastName: id, WorkEmail: "p" + id + "@example.com",
			Status: "Active", EmploymentHistoryStatus: "Full-Time", Department: "Engineering", HireDate: "2024-03-01"})
	}
	srv := scimtest.New(scimtest.Slack(), scimtest.WithRateScale(1000))
	defer srv.Close()
	srv.Delay(25 * time.Millisecond) // a vendor that takes its time, so people are mid-apply at the kill
	dir := t.TempDir()
	cfg := filepath.Join(dir, "keycard.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `apps:
  - {name: slack, type: scim, profile: slack, token_env: TOKEN_SLACK, base_url: %q, rate_limit: {writes_per_minute: 600000, burst: 100}}
policy:
  birthright:
    slack: {groups: [everyone]}
`, srv.URL()), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"BAMBOOHR_WEBHOOK_KEY="+key, "BAMBOOHR_API_URL="+fake.URL(), "BAMBOOHR_API_KEY="+fake.APIKey(), "BAMBOOHR_COMPANY="+fake.Company(),
		"KEYCARD_CONFIG="+cfg, "TOKEN_SLACK="+srv.Token(), "KEYCARD_DATA_DIR="+filepath.Join(dir, "data"),
		"KEYCARD_HTTP_ADDR=127.0.0.1:0", "KEYCARD_METRICS_ADDR=127.0.0.1:0", "KEYCARD_NATS_LISTEN=127.0.0.1:0",
		// Scaled down from 5s/10s: what is left at the kill mostly waits
		// for AckWait (its deliveries were stored), so the margin to 10s
		// does not ride on a busy machine.
		"KEYCARD_WORKER_LEASE=2s", "KEYCARD_WORKER_ACK_WAIT=5s",
		// Few handlers and a slow vendor keep most people still to do when
		// the kill comes.
		"KEYCARD_WORKER_CONCURRENCY=8",
		"KEYCARD_POLL_INTERVAL=1h", "KEYCARD_SWEEP_INTERVAL=-1s", "KEYCARD_LOG_LEVEL=info", "KEYCARD_LOG_FORMAT=json")

	first := startBinary(t, bin, env)
	url := first.url(t)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range people {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			body := fmt.Sprintf(`{"type":"employee.created","timestamp":%q,"data":{"companyId":"1","employeeId":"%d"}}`,
				time.Now().UTC().Format(time.RFC3339Nano), 5000+i)
			if code, resp := post(t, url, []byte(body)); code != http.StatusAccepted {
				t.Errorf("POST = %d %s", code, resp)
			}
		})
	}
	wg.Wait()
	// Kill once some people are in, so others are mid-apply or queued.
	for deadline := time.Now().Add(20 * time.Second); len(srv.Users()) < people/8 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	before := len(srv.Users())
	if err := first.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	t.Logf("killed with %d of %d people created", before, people)
	if before == people {
		t.Fatal("everyone was applied before the kill: the test shows nothing; slow the vendor down")
	}

	restart := time.Now()
	second := startBinary(t, bin, env)
	second.url(t)
	converged := func() (int, bool) {
		users := srv.Users()
		var everyone []string
		for _, g := range srv.Groups() {
			if g.DisplayName == "everyone" {
				everyone = g.Members
			}
		}
		n := 0
		for _, u := range users {
			if u.Active && slices.Contains(everyone, u.ID) {
				n++
			}
		}
		return n, len(users) == people && n == people
	}
	for {
		n, ok := converged()
		if ok {
			break
		}
		if time.Since(restart) > 10*time.Second {
			t.Fatalf("%d of %d people converged 10s after the restart (%d users)", n, people, len(srv.Users()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("time to resume after SIGKILL: every person converged %v after the restart (%d were left at the kill; %d events found their leases held by the killed run and took them over)",
		time.Since(restart).Round(time.Millisecond), people-before, second.tookOver.Load())
	if n := len(srv.Users()); n != people {
		t.Fatalf("%d users for %d people: some doubled", n, people)
	}
	if n := srv.Requests().ByStatus[http.StatusConflict]; n != 0 {
		t.Errorf("the vendor answered 409 %d times: a create was sent twice", n)
	}
	// The accounts can be complete before the events are: an event whose
	// writes the killed run made, but not its ledger entry and record, is
	// handed out again after AckWait and recorded "noop". Wait for the
	// workers' durables to settle, then every event has its record and
	// none is applied twice.
	natsURL := <-second.natsURL
	withJS(t, natsURL, func(js jetstream.JetStream) {
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			c, err := js.Consumer(context.Background(), streams.Events, "worker-slack")
			if err == nil {
				if ci, err := c.Info(context.Background()); err == nil && ci.NumPending == 0 && ci.NumAckPending == 0 {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("the workers' durable did not settle 20s after converging")
			}
		}
	})
	applied, recorded := map[string]int{}, map[string]bool{}
	for _, m := range streamMsgs(t, natsURL, streams.Audit) {
		var rec worker.Record
		if json.Unmarshal(m.Data, &rec) != nil {
			continue
		}
		recorded[rec.EventID] = true
		if rec.Outcome == "applied" {
			applied[rec.EventID]++
		}
	}
	if len(recorded) != people {
		t.Errorf("%d events have an audit record, want %d", len(recorded), people)
	}
	for id, n := range applied {
		if n > 1 {
			t.Errorf("event %s has %d applied audit records", id, n)
		}
	}
	if n := len(streamMsgs(t, natsURL, streams.DLQ)); n != 0 {
		t.Errorf("%d dead letters", n)
	}
	_ = second.cmd.Process.Signal(os.Interrupt)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { _ = second.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Error("the restarted binary did not stop on SIGINT")
	}
}
