package scimtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"keycard/pkg/testclock"
)

func start(t *testing.T, opts ...Option) (*Server, client) {
	t.Helper()
	s := New(opts...)
	t.Cleanup(s.Close)
	return s, client{t: t, s: s, token: s.Token()}
}

type client struct {
	t     *testing.T
	s     *Server
	token string
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends body (a string is sent verbatim, anything else as JSON) and
// decodes a JSON answer.
func (c client) do(method, path string, body any) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.s.URL()+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	return send(c.t, req)
}

// send performs req and decodes a JSON answer.
func send(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %v\n%s", req.Method, req.URL, err, raw)
		}
	}
	return r
}

// want fails unless the answer has status.
func (r response) want(t *testing.T, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	return r
}

// wantError checks an RFC 7644 §3.12 error answer.
func (r response) wantError(t *testing.T, status int, scimType string) response {
	t.Helper()
	r.want(t, status)
	if got := r.header.Get("Content-Type"); got != "application/scim+json" {
		t.Errorf("Content-Type = %q", got)
	}
	if !reflect.DeepEqual(r.body["schemas"], []any{errorSchema}) {
		t.Errorf("schemas = %v", r.body["schemas"])
	}
	if r.body["status"] != strconv.Itoa(status) {
		t.Errorf("status member = %#v, want the string %q", r.body["status"], strconv.Itoa(status))
	}
	if got, _ := r.body["scimType"].(string); got != scimType {
		t.Errorf("scimType = %q, want %q (detail %q)", got, scimType, r.body["detail"])
	}
	if _, ok := r.body["detail"].(string); !ok {
		t.Errorf("detail missing: %s", r.raw)
	}
	return r
}

func (r response) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

func userBody(userName string, extra map[string]any) map[string]any {
	b := map[string]any{"schemas": []string{userSchema}, "userName": userName}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func emails(values ...string) []any {
	var out []any
	for i, v := range values {
		out = append(out, map[string]any{"value": v, "type": "work", "primary": i == 0})
	}
	return out
}

func (c client) createUser(userName string, extra map[string]any) string {
	c.t.Helper()
	return c.do(http.MethodPost, "/Users", userBody(userName, extra)).want(c.t, http.StatusCreated).str("id")
}

func (c client) createGroup(name string, members ...string) string {
	c.t.Helper()
	var ms []any
	for _, m := range members {
		ms = append(ms, map[string]any{"value": m})
	}
	body := map[string]any{"schemas": []string{groupSchema}, "displayName": name}
	if ms != nil {
		body["members"] = ms
	}
	return c.do(http.MethodPost, "/Groups", body).want(c.t, http.StatusCreated).str("id")
}

func patchBody(ops ...map[string]any) map[string]any {
	return map[string]any{"schemas": []string{patchSchema}, "Operations": ops}
}

func op(name, path string, value any) map[string]any {
	m := map[string]any{"op": name}
	if path != "" {
		m["path"] = path
	}
	if value != nil {
		m["value"] = value
	}
	return m
}

func filterQuery(f string) string { return "/Users?filter=" + url.QueryEscape(f) }

// listUserNames returns the userNames of a list answer.
func listUserNames(t *testing.T, r response) []string {
	t.Helper()
	r.want(t, http.StatusOK)
	if !reflect.DeepEqual(r.body["schemas"], []any{listSchema}) {
		t.Fatalf("schemas = %v", r.body["schemas"])
	}
	res, _ := r.body["Resources"].([]any)
	names := []string{}
	for _, x := range res {
		names = append(names, x.(map[string]any)["userName"].(string))
	}
	return names
}

// newFakeClock is a standing clock for the rate limiter.
func newFakeClock() *testclock.Clock {
	return testclock.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
}
