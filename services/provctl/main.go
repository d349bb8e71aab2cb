// Command provctl is the operator's tool for Keycard: dead letters (list,
// show, replay, purge), actions held by the blast-radius guard (list,
// release, reject), a policy file check, a person's timeline (explain),
// and a read-only check that each configured app is reachable with its
// credential (apps check).
//
// Usage:
//
//	provctl [--nats URL] [--timeout D] <command> [flags]
//
// The commands live one group per file: dlq.go, held.go, policycheck.go,
// explain.go, apps.go; streams.go reads and writes JetStream for all of
// them (apps check needs no NATS).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"keycard/pkg/connector/registry"
	"keycard/pkg/connectors"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "provctl:", err)
		}
		os.Exit(exitCode(err))
	}
}

// run executes one provctl command line. Questions (confirmations) are
// read from the process's standard input.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	c := &cli{stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: getenv, now: time.Now, types: connectors.Registry()}
	return c.run(ctx, args)
}

// cli is one invocation's wiring: where it reads answers and writes
// output, its environment and its clock.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	now    func() time.Time
	types  *registry.Registry // the app types a policy file may name
}

const usageText = `usage: provctl [--nats URL] [--timeout D] <command> [flags]

Dead letters (HR_DLQ):
  dlq list    [--app A] [--class permanent|exhausted] [--since T] [--until T] [--json]
  dlq show    SEQ [--json]
  dlq replay  (SEQ... | --app A [--class C] [--since T] [--until T] | --all) [--yes] [--json]
  dlq purge   (SEQ... | --app A [--class C] [--since T] [--until T] | --all) [--yes] [--json]

Held actions (HR_HELD, the blast-radius guard):
  held list    [--app A] [--json]
  held release (SEQ... | --app A | --all) [--yes] [--json]
  held reject  (SEQ... | --app A | --all) [--yes] [--json]

Policy and people:
  policy check FILE
  explain EMPLOYEE_ID [--config FILE] [--json]

Apps:
  apps check  [--config FILE] [--json]    reachable? paused by its circuit?
  apps resume APP...                      resume paused apps now

Whole company (the employees snapshot against the policy and the apps):
  plan      --config NEW [--current FILE] [--app A]... [--details] [--json]
  reconcile [--config FILE] [--app A]... [--fix] [--details] [--json]
  reconcile status [--json]

Before roll-out (an HR export or the live tenant, read-only; no NATS):
  simulate [--hr FILE] [--config FILE] [--accounts live | --accounts-dir DIR] [--json] [--html FILE]
           [--from DATE [--to DATE] [--latency D] [--manual-access 72h] [--manual-revoke 24h]]
After roll-out (seats and the monthly report):
  report seats    [--config FILE] [--json]
  report activity (--month 2026-11 | --quarter 2026-Q4 | --year 2026) [--config FILE] [--csv FILE] [--svg FILE] [--json]

T is RFC 3339 (2025-03-01T09:00:00Z) or a duration ago (90m, 2h, 7d).
NATS_URL (default nats://127.0.0.1:4222) or --nats selects the server;
--timeout (default 10s) bounds each NATS call and each app's check;
KEYCARD_CONFIG is the default --config of explain, apps check, reconcile, simulate and report,
and plan's --current.
`

func (c *cli) run(ctx context.Context, args []string) error {
	if err := c.dispatch(ctx, args); !errors.Is(err, errHelp) {
		return err
	}
	return nil
}

func (c *cli) dispatch(ctx context.Context, args []string) error {
	g, args, err := c.parseGlobal(args)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usageText)
		return usageErrorf("no command")
	}
	cmd, rest := args[0], args[1:]
	sub := func() (string, []string, error) {
		if len(rest) == 0 {
			fmt.Fprint(c.stderr, usageText)
			return "", nil, usageErrorf("%s: no subcommand", cmd)
		}
		return rest[0], rest[1:], nil
	}
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(c.stdout, usageText)
		return nil
	case "dlq":
		name, rest, err := sub()
		if err != nil {
			return err
		}
		switch name {
		case "list":
			return c.dlqList(ctx, g, rest)
		case "show":
			return c.dlqShow(ctx, g, rest)
		case "replay":
			return c.dlqReplay(ctx, g, rest)
		case "purge":
			return c.dlqPurge(ctx, g, rest)
		}
		return usageErrorf("dlq %s: unknown subcommand (list, show, replay, purge)", name)
	case "held":
		name, rest, err := sub()
		if err != nil {
			return err
		}
		switch name {
		case "list":
			return c.heldList(ctx, g, rest)
		case "release":
			return c.heldResolve(ctx, g, rest, heldRelease)
		case "reject":
			return c.heldResolve(ctx, g, rest, heldReject)
		}
		return usageErrorf("held %s: unknown subcommand (list, release, reject)", name)
	case "policy":
		name, rest, err := sub()
		if err != nil {
			return err
		}
		if name == "check" {
			return c.policyCheck(rest)
		}
		return usageErrorf("policy %s: unknown subcommand (check)", name)
	case "explain":
		return c.explain(ctx, g, rest)
	case "plan":
		return c.plan(ctx, g, rest)
	case "reconcile":
		if len(rest) > 0 && rest[0] == "status" {
			return c.reconcileStatus(ctx, g, rest[1:])
		}
		return c.reconcileRun(ctx, g, rest)
	case "simulate":
		return c.simulate(ctx, g, rest)
	case "report":
		name, rest, err := sub()
		if err != nil {
			return err
		}
		return c.reportCmd(ctx, g, name, rest)
	case "apps":
		name, rest, err := sub()
		if err != nil {
			return err
		}
		switch name {
		case "check":
			return c.appsCheck(ctx, g, rest)
		case "resume":
			return c.appsResume(ctx, g, rest)
		}
		return usageErrorf("apps %s: unknown subcommand (check, resume)", name)
	}
	fmt.Fprint(c.stderr, usageText)
	return usageErrorf("unknown command %q", cmd)
}
