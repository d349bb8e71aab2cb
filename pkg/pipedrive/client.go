package pipedrive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"keycard/pkg/fault"
	"keycard/pkg/ratelimit"
)

// maxBody bounds what is read of one answer: a page of 500 users is well
// under a megabyte.
const maxBody = 8 << 20

// access is how a request is paced. Pipedrive's burst limit counts every
// request, reads included, so every one waits on the pacer but the
// step's first write, which the worker paced.
type access int

const (
	read      access = iota // paced
	stepWrite               // the worker paced it: the step's first write
	write                   // a further write of the step: paced
)

// call is one request: method, path below the API root, query, and the
// JSON body (nil: none).
type call struct {
	how    access
	method string
	path   string
	query  url.Values
	body   any
}

// do sends c, paced first unless the worker paced it, within the
// connector's timeout,
// and decodes the answer's data into out (nil: ignored). It returns the
// envelope's pagination, if any. The token goes in the x-api-token
// header, never in the URL.
func (k *Connector) do(ctx context.Context, c call, out any) (*envelope, error) {
	if c.how != stepWrite && k.pace != nil {
		if err := k.pace(ctx); err != nil {
			return nil, err
		}
	}
	env, err := k.send(ctx, c, out)
	k.answered(ctx, err)
	return env, err
}

func (k *Connector) send(ctx context.Context, c call, out any) (*envelope, error) {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	u := k.base.JoinPath(c.path)
	u.RawQuery = c.query.Encode()
	var body io.Reader
	if c.body != nil {
		raw, err := json.Marshal(c.body)
		if err != nil {
			return nil, fault.Permanent(fmt.Errorf("pipedrive: %s %s: encode body: %w", c.method, c.path, err))
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, u.String(), body)
	if err != nil {
		return nil, fault.Permanent(fmt.Errorf("pipedrive: %s %s: %w", c.method, c.path, err))
	}
	req.Header.Set("X-Api-Token", k.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "keycard")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := k.hc.Do(req)
	if err != nil {
		return nil, transportError(c, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, transportError(c, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, classify(c.method, c.path, resp.StatusCode, resp.Header, raw, k.token, k.now())
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		// An answer that is not Pipedrive's JSON reads no better on retry.
		return nil, fault.Permanent(fmt.Errorf("pipedrive: %s %s: %d answer is not JSON: %w", c.method, c.path, resp.StatusCode, err))
	}
	if !env.Success {
		return nil, classify(c.method, c.path, resp.StatusCode, resp.Header, raw, k.token, k.now())
	}
	if out != nil && len(env.Data) > 0 && !bytes.Equal(env.Data, []byte("null")) {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return nil, fault.Permanent(fmt.Errorf("pipedrive: %s %s: decode data: %w", c.method, c.path, err))
		}
	}
	return &env, nil
}

// transportError is a request that got no answer: transient, naming the
// path only (the query carries addresses).
func transportError(c call, err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("pipedrive: %s %s: %w", c.method, c.path, err)
}

// answered tells the pacer how Pipedrive answered: a limit pauses the
// app; any other answer counts towards the pace (every request counts
// against the burst limit); a 5xx or no answer says nothing about it.
func (k *Connector) answered(ctx context.Context, err error) {
	if k.observe == nil {
		return
	}
	e, isAPI := errors.AsType[*Error](err)
	switch {
	case isAPI && e.Throttled():
		k.observe(ctx, ratelimit.Outcome{Throttled: true, RetryAfter: e.RetryAfter})
	case isAPI && e.Status < 500, err == nil:
		k.observe(ctx, ratelimit.Outcome{})
	}
}

// pages reads a v1 list from start, 500 at a time, following
// additional_data.pagination; a list without pagination is one page.
func pages[T any](ctx context.Context, k *Connector, how access, path string, query url.Values, each func(T) error) error {
	start := 0
	for range maxPages {
		q := url.Values{}
		for key, v := range query {
			q[key] = v
		}
		q.Set("start", fmt.Sprint(start))
		q.Set("limit", fmt.Sprint(pageSize))
		var items []T
		env, err := k.do(ctx, call{how: how, method: http.MethodGet, path: path, query: q}, &items)
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := each(it); err != nil {
				return err
			}
		}
		var pg *pagination
		if env.AdditionalData != nil {
			pg = env.AdditionalData.Pagination
		}
		if pg == nil || !pg.More {
			return nil
		}
		next := start + len(items)
		if pg.NextStart != nil {
			next = *pg.NextStart
		}
		if next <= start {
			return fault.Permanent(fmt.Errorf("pipedrive: %s: pagination does not advance (start %d)", strings.TrimPrefix(path, "/"), start))
		}
		start = next
	}
	return fault.Permanent(fmt.Errorf("pipedrive: %s: a listing longer than %d pages", path, maxPages))
}
