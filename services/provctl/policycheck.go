package main

import (
	"fmt"

	"keycard/pkg/policy"
)

// policyCheck loads a configuration file the way every service does and
// prints either a one-line summary or every problem, one per line
// (file:line:col: field: msg).
func (c *cli) policyCheck(args []string) error {
	var g globals
	fs := c.newFlagSet("policy check", "policy check FILE", &g)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("policy check: want exactly one FILE")
	}
	cfg, err := policy.Load(pos[0])
	if err != nil {
		for _, e := range problems(err) {
			fmt.Fprintln(c.stderr, e)
		}
		return errReported
	}
	fmt.Fprintf(c.stdout, "ok: %d apps, %d rules\n", len(cfg.Apps), len(cfg.Policy.Rules))
	return nil
}

// problems flattens errors joined with errors.Join into one per problem;
// each *policy.Error already reads file:line:col: field: msg.
func problems(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, problems(e)...)
		}
		return out
	}
	return []error{err}
}
