package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Process settings: NATS_URL and KEYCARD_CONFIG from the environment,
// overridden by flags.
const (
	envNATSURL       = "NATS_URL"
	envConfig        = "KEYCARD_CONFIG"
	defaultNATSURL   = "nats://127.0.0.1:4222" // where the single binary listens
	defaultTimeout   = 10 * time.Second
	confirmThreshold = 20 // dlq replay asks before replaying more than this
)

// globals are the settings every command shares.
type globals struct {
	natsURL string
	timeout time.Duration // bounds every NATS call, and each app's check in apps check
}

// errReported means the details are already on stderr: exit 1, say nothing more.
var errReported = errors.New("failed (details above)")

// usageError is a malformed command line (exit 2).
type usageError struct {
	msg      string
	reported bool // the flag package printed it already
}

func (e *usageError) Error() string { return e.msg }

// Is makes a usage error the flag package printed match errReported.
func (e *usageError) Is(target error) bool { return e.reported && target == errReported }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode is 2 for a malformed command line, 1 for anything else.
func exitCode(err error) int {
	if _, ok := errors.AsType[*usageError](err); ok {
		return 2
	}
	return 1
}

// parseGlobal reads the flags before the command name.
func (c *cli) parseGlobal(args []string) (globals, []string, error) {
	g := globals{natsURL: c.getenv(envNATSURL), timeout: defaultTimeout}
	if g.natsURL == "" {
		g.natsURL = defaultNATSURL
	}
	fs := flag.NewFlagSet("provctl", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() { fmt.Fprint(c.stderr, usageText) }
	fs.StringVar(&g.natsURL, "nats", g.natsURL, "NATS server URL (env NATS_URL)")
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "bound on every NATS call, and on each app's check (apps check)")
	if err := fs.Parse(args); err != nil {
		return g, nil, flagError(err)
	}
	return g, fs.Args(), nil
}

// newFlagSet makes a subcommand's flag set, which also accepts the global
// flags (so `provctl dlq list --nats URL` works too).
func (c *cli) newFlagSet(name, synopsis string, g *globals) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "usage: provctl %s\n", synopsis)
		fs.PrintDefaults()
	}
	fs.StringVar(&g.natsURL, "nats", g.natsURL, "NATS server URL (env NATS_URL)")
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "bound on every NATS call, and on each app's check (apps check)")
	return fs
}

// parseArgs parses flags wherever they appear among the positional
// arguments (`dlq show 42 --json`), returning the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, flagError(err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil // everything after -- is positional
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// errHelp stops a command after its usage was printed for -h; run
// reports success.
var errHelp = errors.New("help requested")

// flagError turns the flag package's errors into usage errors (the flag
// package has printed the problem and the usage already).
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	return &usageError{msg: err.Error(), reported: true}
}

// tokenRE is what an app name may be (policy: ^[a-z][a-z0-9-]{0,31}$),
// loosened to any single subject token without wildcards.
var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func checkApp(app string) error {
	if app != "" && !tokenRE.MatchString(app) {
		return usageErrorf("--app %q: not an app name", app)
	}
	return nil
}

// timeFlag is a point in time given as RFC 3339 or as a duration ago
// ("2h", "90m", "7d", "2h-ago").
type timeFlag struct {
	now func() time.Time
	t   time.Time
}

func (f *timeFlag) String() string {
	if f == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	t, err := parseWhen(s, f.now())
	if err != nil {
		return err
	}
	f.t = t
	return nil
}

// parseWhen parses RFC 3339 or a duration before now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d := strings.TrimSuffix(strings.TrimSpace(s), "-ago")
	if days, ok := strings.CutSuffix(d, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || !(n >= 0 && n <= 100_000) { // NaN fails too; beyond, a Duration overflows
			return time.Time{}, fmt.Errorf("%q: want RFC 3339 or a duration ago such as 2h or 7d", s)
		}
		return now.Add(-time.Duration(n * float64(24*time.Hour))), nil
	}
	dur, err := time.ParseDuration(d)
	if err != nil || dur < 0 {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 or a duration ago such as 2h or 7d", s)
	}
	return now.Add(-dur), nil
}

// parseSeqs parses stream sequence numbers.
func parseSeqs(args []string) ([]uint64, error) {
	seqs := make([]uint64, 0, len(args))
	for _, a := range args {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil || n == 0 {
			return nil, usageErrorf("%q is not a sequence number", a)
		}
		seqs = append(seqs, n)
	}
	return seqs, nil
}

// confirm asks a yes/no question on stderr and reads the answer; anything
// but y or yes (including no terminal at all) is no.
func (c *cli) confirm(question string) error {
	fmt.Fprintf(c.stderr, "%s [y/N] ", question)
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	fmt.Fprintln(c.stderr)
	return errors.New("aborted, nothing changed (answer y, or pass --yes)")
}
