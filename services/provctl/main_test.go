package main

import (
	"net"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.deadLetter(deadLetterSpec{app: "slack", kind: "hired", key: "1", class: "permanent", attempts: 1, err: "x"})

	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "nats://" + l.Addr().String()
	l.Close()

	tests := []struct {
		name       string
		args       []string
		wantCode   int // 0: success
		wantErr    string
		wantStdout string
		wantStderr string
	}{
		{name: "no command", args: nil, wantCode: 2, wantErr: "no command", wantStderr: "usage: provctl"},
		{name: "unknown command", args: []string{"frob"}, wantCode: 2, wantErr: `unknown command "frob"`},
		{name: "help", args: []string{"help"}, wantStdout: "dlq replay"},
		{name: "subcommand help", args: []string{"dlq", "list", "-h"}, wantStderr: "usage: provctl dlq list"},
		{name: "unknown flag", args: []string{"dlq", "list", "--colour"}, wantCode: 2, wantErr: "flag provided but not defined"},
		{name: "global --nats before the command", args: []string{"--nats", closed, "dlq", "list"}, wantCode: 1, wantErr: "connect to NATS at " + closed},
		{name: "--nats after the command", args: []string{"dlq", "list", "--nats", closed}, wantCode: 1, wantErr: "connect to NATS at " + closed},
		{name: "bad timeout", args: []string{"dlq", "list", "--timeout", "0s"}, wantCode: 2, wantErr: "--timeout must be positive"},
		{name: "NATS_URL", args: []string{"dlq", "list", "--app", "slack"}, wantStdout: "slack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := h.run(tt.args...)
			switch {
			case tt.wantCode == 0 && o.err != nil:
				t.Fatalf("err = %v", o.err)
			case tt.wantCode != 0 && (o.err == nil || exitCode(o.err) != tt.wantCode || !strings.Contains(o.err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want exit %d with %q", o.err, tt.wantCode, tt.wantErr)
			}
			if !strings.Contains(o.stdout, tt.wantStdout) || !strings.Contains(o.stderr, tt.wantStderr) {
				t.Errorf("stdout %q, stderr %q; want %q and %q", o.stdout, o.stderr, tt.wantStdout, tt.wantStderr)
			}
		})
	}
}
