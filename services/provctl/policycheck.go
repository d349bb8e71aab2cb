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
	cfg, err := c.loadPolicy(pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "ok: %d apps, %d rules\n", len(cfg.Apps), len(cfg.Policy.Rules))
	return nil
}

// loadPolicy loads the policy file at path as the worker does, against
// the same connector registry; its problems go to stderr, one a line.
func (c *cli) loadPolicy(path string) (*policy.Config, error) {
	cfg, err := policy.Load(path, c.types)
	if err != nil {
		for _, e := range problems(err) {
			fmt.Fprintln(c.stderr, e)
		}
		return nil, errReported
	}
	return cfg, nil
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
