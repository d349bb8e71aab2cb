// Command sendwebhook fires a signed BambooHR-style webhook at a running
// Keycard, so a newcomer can watch a hire or a termination land.
//
//	go run ./scripts/sendwebhook hire 1001
//	go run ./scripts/sendwebhook -style fields terminate 1001
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"keycard/pkg/bamboohr/webhook"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sendwebhook:", err)
		os.Exit(1)
	}
}

const usage = `usage: sendwebhook [flags] KIND [EMPLOYEE_ID]

KIND is one of: hire, update, move, terminate, delete.
The key comes from -key, else $BAMBOOHR_WEBHOOK_KEY, else the file that
'make run' generates (data/dev-webhook-key).

flags:
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sendwebhook", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage); fs.PrintDefaults() }
	url := fs.String("url", "http://localhost:8080/webhooks/bamboohr", "webhook endpoint")
	key := fs.String("key", "", "webhook private key")
	keyFile := fs.String("key-file", "data/dev-webhook-key", "file holding the key when -key and $BAMBOOHR_WEBHOOK_KEY are empty")
	style := fs.String("style", "event", "payload style: event (employee.*) or fields (legacy batch)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return errors.New("need KIND and optionally EMPLOYEE_ID")
	}
	id := "1001"
	if fs.NArg() == 2 {
		id = fs.Arg(1)
	}
	secret, err := resolveKey(*key, getenv("BAMBOOHR_WEBHOOK_KEY"), *keyFile)
	if err != nil {
		return err
	}
	body, err := payload(*style, fs.Arg(0), id, time.Now().UTC())
	if err != nil {
		return err
	}

	ts := strconv.FormatInt(time.Now().Unix(), 10)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderTimestamp, ts)
	req.Header.Set(webhook.HeaderSignature, webhook.Sign([]byte(secret), body, ts))
	fmt.Fprintf(stdout, "POST %s\n%s\n", *url, body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprintf(stdout, "→ %s %s\n", resp.Status, bytes.TrimSpace(answer))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("delivery refused with %s", resp.Status)
	}
	return nil
}

func resolveKey(flagKey, envKey, file string) (string, error) {
	switch {
	case flagKey != "":
		return flagKey, nil
	case envKey != "":
		return envKey, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("no key: pass -key, set BAMBOOHR_WEBHOOK_KEY, or run 'make run' once to create %s", file)
	}
	return strings.TrimSpace(string(b)), nil
}

// payload builds a body in the shape BambooHR sends (shared/reference/
// bamboohr.md §1.2, §1.3). The timestamp makes each body unique, so two
// sends are two deliveries rather than a retry.
func payload(style, kind, id string, now time.Time) ([]byte, error) {
	ts := now.Format("2006-01-02T15:04:05-0700")
	type change struct {
		eventType, action string
		changed           []string
		fields            map[string]string
	}
	changes := map[string]change{
		"hire":      {"employee.created", "Created", nil, nil},
		"update":    {"employee.updated", "Updated", []string{"preferredName"}, map[string]string{"Preferred Name": "Sam"}},
		"move":      {"employee.updated", "Updated", []string{"department", "jobTitle"}, map[string]string{"Department": "Engineering", "Job Title": "Staff Engineer"}},
		"terminate": {"employee.updated", "Updated", []string{"status", "employmentHistoryStatus"}, map[string]string{"Status": "Inactive", "Employment Status": "Terminated", "Termination Date": now.Format("2006-01-02")}},
		"delete":    {"employee.deleted", "Deleted", nil, nil},
	}
	c, ok := changes[kind]
	if !ok {
		return nil, fmt.Errorf("unknown KIND %q: want hire, update, move, terminate or delete", kind)
	}
	switch style {
	case "event":
		data := map[string]any{"companyId": "1", "employeeId": id}
		if c.changed != nil {
			data["changedFields"] = c.changed
		}
		return json.Marshal(map[string]any{"type": c.eventType, "timestamp": ts, "data": data})
	case "fields":
		emp := map[string]any{"id": id, "action": c.action, "timestamp": ts, "changedFields": c.changed, "fields": c.fields}
		if c.changed == nil {
			emp["changedFields"], emp["fields"] = []string{}, map[string]string{}
		}
		return json.Marshal(map[string]any{"employees": []any{emp}})
	}
	return nil, fmt.Errorf("unknown -style %q: want event or fields", style)
}
