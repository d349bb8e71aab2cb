package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"keycard/pkg/fault"
	"keycard/pkg/ratelimit"
)

// ContentType is the SCIM media type (RFC 7644 §8.1).
const ContentType = "application/scim+json"

// Client talks to one SCIM service provider. It is safe for concurrent
// use. It does not retry: every error carries its class (see Error) and
// the worker runtime decides when to try again, pacing writes with
// Profile.RateLimit.
type Client struct {
	base       string
	token      string
	authHeader string
	authValue  string
	profile    Profile
	hc         *http.Client
	timeout    time.Duration
	maxBody    int64
	maxResults int
	pageSize   int
	userAgent  string
	now        func() time.Time
	pace       func(context.Context) error // before reads, when RateLimit.Reads
	observe    func(context.Context, ratelimit.Outcome)
}

// New checks cfg, fills in defaults and returns a client.
func New(cfg Config) (*Client, error) {
	base, err := cfg.baseURL()
	if err != nil {
		return nil, fmt.Errorf("scim config: %w", err)
	}
	if err := validToken(cfg.Token); err != nil {
		return nil, fmt.Errorf("scim config: %w", err)
	}
	if cfg.Timeout < 0 || cfg.MaxBodyBytes < 0 || cfg.MaxResults < 0 {
		return nil, errors.New("scim config: timeout, max body bytes and max results must not be negative")
	}
	p := cfg.Profile
	if p.Name == "" {
		p = Generic()
	}
	if p.MaxPageSize < 0 || p.MaxMembersPerPatch < 0 {
		return nil, fmt.Errorf("scim config: profile %s: page size and members per patch must not be negative", p.Name)
	}
	c := &Client{
		base:       base,
		token:      cfg.Token,
		authHeader: orDefault(p.Auth.Header, "Authorization"),
		profile:    p,
		hc:         cfg.HTTPClient,
		timeout:    orDefault(cfg.Timeout, DefaultTimeout),
		maxBody:    orDefault(cfg.MaxBodyBytes, DefaultMaxBodyBytes),
		maxResults: orDefault(cfg.MaxResults, DefaultMaxResults),
		pageSize:   orDefault(p.MaxPageSize, DefaultPageSize),
		userAgent:  orDefault(cfg.UserAgent, DefaultUserAgent),
		now:        cfg.Now,
		observe:    cfg.Observe,
	}
	if p.RateLimit.Reads {
		c.pace = cfg.Pace
	}
	if p.Auth.Header != "" && p.Auth.Scheme == "" {
		c.authValue = cfg.Token // a custom header carries the bare token
	} else {
		c.authValue = orDefault(p.Auth.Scheme, "Bearer") + " " + cfg.Token
	}
	if c.hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = DefaultMaxIdleConns
		c.hc = &http.Client{Transport: t}
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Profile returns the profile the client works with.
func (c *Client) Profile() Profile { return c.profile }

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// ---- Users --------------------------------------------------------------------

// GetUser reads one user by the provider's id.
func (c *Client) GetUser(ctx context.Context, id string) (User, error) {
	var u User
	p, err := resourcePath("/Users", id)
	if err != nil {
		return u, err
	}
	_, err = c.do(ctx, http.MethodGet, p, nil, nil, &u)
	return u, err
}

// FindUsers returns every user matching filter (the zero Filter: every
// user), reading all pages. Users the provider lists twice while pages
// shift are returned once.
func (c *Client) FindUsers(ctx context.Context, filter Filter) ([]User, error) {
	var out []User
	err := c.EachUser(ctx, filter, func(u User) error {
		out = append(out, u)
		return nil
	})
	return out, err
}

// EachUser calls fn for every user matching filter, page by page, and
// stops at fn's first error, returning it.
func (c *Client) EachUser(ctx context.Context, filter Filter, fn func(User) error) error {
	if err := c.profile.checkFilter(filter, false); err != nil {
		return localError(http.MethodGet, "/Users", http.StatusBadRequest, "invalidFilter", err.Error())
	}
	return c.list(ctx, "/Users", filter, func(raw json.RawMessage) error {
		var u User
		if err := json.Unmarshal(raw, &u); err != nil {
			return fault.Permanent(fmt.Errorf("scim: GET /Users: decode user: %w", err))
		}
		return fn(u)
	})
}

// CountUsers returns how many users the provider holds (totalResults),
// reading one page of one user: GET /Users?startIndex=1&count=1. It is
// the cheapest read that proves the token may list users.
func (c *Client) CountUsers(ctx context.Context) (int, error) {
	var page listResponse
	if _, err := c.do(ctx, http.MethodGet, "/Users?startIndex=1&count=1", nil, nil, &page); err != nil {
		return 0, err
	}
	return page.TotalResults, nil
}

// CreateUser creates u, shaped by Profile.Prepare, and returns the user
// as the provider stored it. When the user exists already the error
// satisfies IsConflict: adopt the existing account instead.
func (c *Client) CreateUser(ctx context.Context, u User) (User, error) {
	u, err := c.profile.Prepare(u)
	if err != nil {
		return User{}, localError(http.MethodPost, "/Users", http.StatusBadRequest, "invalidValue", err.Error())
	}
	u.ID, u.Meta, u.Groups = "", nil, nil
	var out User
	_, err = c.do(ctx, http.MethodPost, "/Users", u, nil, &out)
	return out, err
}

// ReplaceUser replaces the user with u (PUT, RFC 7644 §3.5.1). Read the
// user first and change what is needed: attributes missing from u are
// cleared at the provider, attributes in u.Extra are kept.
func (c *Client) ReplaceUser(ctx context.Context, u User) (User, error) {
	p, err := resourcePath("/Users", u.ID)
	if err != nil {
		return User{}, err
	}
	u.Meta, u.Groups = nil, nil
	var out User
	_, err = c.do(ctx, http.MethodPut, p, u, nil, &out)
	return out, err
}

// PatchUser applies ops to the user (RFC 7644 §3.5.2). For a profile
// without PATCH it reads the user, applies ops itself with the RFC's
// semantics and PUTs the result back, keeping attributes it does not know
// and guarding with If-Match when the provider sends an ETag.
func (c *Client) PatchUser(ctx context.Context, id string, ops []PatchOp) error {
	return c.patch(ctx, "/Users", id, ops)
}

// DeleteUser deletes the user. What that means differs per vendor (see
// Profile.DeleteEffect: irreversible at GitHub EMU, board transfer at
// Miro); prefer SetActive(false).
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	p, err := resourcePath("/Users", id)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodDelete, p, nil, nil, nil)
	return err
}

// SetActive switches the user on or off the way the profile says:
// PATCH active (the default), DELETE where that is the vendor's only way
// to deprovision (Notion). Reactivating at a vendor that only comes back
// by create returns ErrRecreate (permanent): call CreateUser.
func (c *Client) SetActive(ctx context.Context, id string, active bool) error {
	switch {
	case !active && c.profile.Deactivate == DeactivateDelete:
		// A user already gone is deprovisioned: a redelivered leaver
		// must not fail on the DELETE its first delivery sent.
		if err := c.DeleteUser(ctx, id); !IsNotFound(err) {
			return err
		}
		return nil
	case active && c.profile.Reactivate == ReactivateByCreate:
		return fault.Permanent(fmt.Errorf("scim profile %s: %w", c.profile.Name, ErrRecreate))
	}
	return c.PatchUser(ctx, id, []PatchOp{Replace("active", active)})
}

// ---- Groups -------------------------------------------------------------------

// GetGroup reads one group by the provider's id, with its members.
func (c *Client) GetGroup(ctx context.Context, id string) (Group, error) {
	var g Group
	if err := c.needGroups("GET", "/Groups"); err != nil {
		return g, err
	}
	p, err := resourcePath("/Groups", id)
	if err != nil {
		return g, err
	}
	_, err = c.do(ctx, http.MethodGet, p, nil, nil, &g)
	return g, err
}

// FindGroups returns every group matching filter, reading all pages.
func (c *Client) FindGroups(ctx context.Context, filter Filter) ([]Group, error) {
	if err := c.needGroups("GET", "/Groups"); err != nil {
		return nil, err
	}
	if err := c.profile.checkFilter(filter, true); err != nil {
		return nil, localError(http.MethodGet, "/Groups", http.StatusBadRequest, "invalidFilter", err.Error())
	}
	var out []Group
	err := c.list(ctx, "/Groups", filter, func(raw json.RawMessage) error {
		var g Group
		if err := json.Unmarshal(raw, &g); err != nil {
			return fault.Permanent(fmt.Errorf("scim: GET /Groups: decode group: %w", err))
		}
		out = append(out, g)
		return nil
	})
	return out, err
}

// CreateGroup creates g and returns it as the provider stored it.
func (c *Client) CreateGroup(ctx context.Context, g Group) (Group, error) {
	if err := c.needGroups("POST", "/Groups"); err != nil {
		return Group{}, err
	}
	if g.DisplayName == "" {
		return Group{}, localError(http.MethodPost, "/Groups", http.StatusBadRequest, "invalidValue", "group needs a displayName")
	}
	g.ID, g.Meta = "", nil
	if len(g.Schemas) == 0 {
		g.Schemas = []string{GroupSchema}
	}
	var out Group
	_, err := c.do(ctx, http.MethodPost, "/Groups", g, nil, &out)
	return out, err
}

// DeleteGroup deletes the group (not its members).
func (c *Client) DeleteGroup(ctx context.Context, id string) error {
	if err := c.needGroups("DELETE", "/Groups"); err != nil {
		return err
	}
	p, err := resourcePath("/Groups", id)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodDelete, p, nil, nil, nil)
	return err
}

// PatchGroupMembers adds and removes members (provider user ids) of a
// group. Additions go as {"op":"add","path":"members","value":[…]};
// removals in the profile's MemberRemoval form. Changes bigger than the
// profile's MaxMembersPerPatch are split over several PATCH requests, each
// a complete success or failure; on error, earlier requests stay applied
// (adding a present member and removing an absent one are harmless, so a
// retry of the whole call converges).
func (c *Client) PatchGroupMembers(ctx context.Context, groupID string, add, remove []string) error {
	if err := c.needGroups("PATCH", "/Groups"); err != nil {
		return err
	}
	for _, id := range slices.Concat(add, remove) {
		if id == "" {
			return localError(http.MethodPatch, "/Groups", http.StatusBadRequest, "invalidValue", "empty member id")
		}
	}
	limit := orDefault(c.profile.MaxMembersPerPatch, DefaultMaxMembersPerPatch)
	for chunk := range slices.Chunk(add, limit) {
		members := make([]Member, len(chunk))
		for i, id := range chunk {
			members[i] = Member{Value: id}
		}
		if err := c.patch(ctx, "/Groups", groupID, []PatchOp{Add("members", members)}); err != nil {
			return err
		}
	}
	for chunk := range slices.Chunk(remove, limit) {
		var ops []PatchOp
		switch c.profile.MemberRemoval {
		case RemoveByValue:
			members := make([]Member, len(chunk))
			for i, id := range chunk {
				members[i] = Member{Value: id}
			}
			ops = []PatchOp{{Op: "remove", Path: "members", Value: members}}
		default:
			for _, id := range chunk {
				ops = append(ops, Remove(MemberPath(id)))
			}
		}
		if err := c.patch(ctx, "/Groups", groupID, ops); err != nil {
			return err
		}
	}
	return nil
}

// MemberPath is the PATCH path selecting one group member:
// members[value eq "id"], with id quoted as a filter value.
func MemberPath(id string) string {
	return "members[value eq " + quote(id) + "]"
}

func (c *Client) needGroups(method, path string) error {
	if c.profile.Groups {
		return nil
	}
	return localError(method, path, http.StatusNotImplemented, "", "profile "+c.profile.Name+" has no SCIM Groups")
}

// ---- discovery ----------------------------------------------------------------

// ServiceProviderConfig is what a provider says it supports (RFC 7643 §5).
type ServiceProviderConfig struct {
	PatchSupported     bool
	BulkSupported      bool
	BulkMaxOperations  int
	BulkMaxPayloadSize int
	FilterSupported    bool
	FilterMaxResults   int
	SortSupported      bool
	ETagSupported      bool
	// AuthenticationSchemes are the schemes' type values ("oauthbearertoken").
	AuthenticationSchemes []string
}

// ServiceProviderConfig reads /ServiceProviderConfig, falling back to the
// SCIM 1.1 spelling /ServiceProviderConfigs on a 404.
func (c *Client) ServiceProviderConfig(ctx context.Context) (ServiceProviderConfig, error) {
	var raw struct {
		Patch struct {
			Supported bool `json:"supported"`
		} `json:"patch"`
		Bulk struct {
			Supported      bool `json:"supported"`
			MaxOperations  int  `json:"maxOperations"`
			MaxPayloadSize int  `json:"maxPayloadSize"`
		} `json:"bulk"`
		Filter struct {
			Supported  bool `json:"supported"`
			MaxResults int  `json:"maxResults"`
		} `json:"filter"`
		Sort struct {
			Supported bool `json:"supported"`
		} `json:"sort"`
		ETag struct {
			Supported bool `json:"supported"`
		} `json:"etag"`
		AuthenticationSchemes []struct {
			Type string `json:"type"`
		} `json:"authenticationSchemes"`
	}
	_, err := c.do(ctx, http.MethodGet, "/ServiceProviderConfig", nil, nil, &raw)
	if IsNotFound(err) {
		_, err = c.do(ctx, http.MethodGet, "/ServiceProviderConfigs", nil, nil, &raw)
	}
	if err != nil {
		return ServiceProviderConfig{}, err
	}
	spc := ServiceProviderConfig{
		PatchSupported:     raw.Patch.Supported,
		BulkSupported:      raw.Bulk.Supported,
		BulkMaxOperations:  raw.Bulk.MaxOperations,
		BulkMaxPayloadSize: raw.Bulk.MaxPayloadSize,
		FilterSupported:    raw.Filter.Supported,
		FilterMaxResults:   raw.Filter.MaxResults,
		SortSupported:      raw.Sort.Supported,
		ETagSupported:      raw.ETag.Supported,
	}
	for _, s := range raw.AuthenticationSchemes {
		spc.AuthenticationSchemes = append(spc.AuthenticationSchemes, s.Type)
	}
	return spc, nil
}

// ---- plumbing -----------------------------------------------------------------

// resourcePath is collection + "/" + the escaped id.
func resourcePath(collection, id string) (string, error) {
	if id == "" || id == "." || id == ".." {
		return "", localError("", collection, http.StatusBadRequest, "invalidValue", fmt.Sprintf("bad resource id %q", id))
	}
	return collection + "/" + url.PathEscape(id), nil
}

// patch sends a PATCH, or runs the PUT fallback for profiles without it.
func (c *Client) patch(ctx context.Context, collection, id string, ops []PatchOp) error {
	p, err := resourcePath(collection, id)
	if err != nil {
		return err
	}
	if err := checkOps(ops); err != nil {
		return localError(http.MethodPatch, p, http.StatusBadRequest, "invalidPath", err.Error())
	}
	if c.profile.Patch {
		// No attributes/excludedAttributes on a PATCH, though a group's
		// answer holds every member (RFC 7644 §3.5.2): a server built on
		// SCIMMY applies them to the resource it patches as well, and an
		// add with excludedAttributes=members replaced the whole group
		// with the new member. No vendor profile documents that a server
		// reads them for the answer only, so none asks; do drains the
		// unread echo within the body limit.
		body := patchRequest{Schemas: []string{PatchOpSchema}, Operations: ops}
		_, err := c.do(ctx, http.MethodPatch, p, body, nil, nil)
		return err
	}
	return c.putFallback(ctx, p, ops)
}

// putFallback reads the resource, applies ops and PUTs it back. A 412 on
// the PUT means someone changed it in between: transient, the retry reads
// it again.
func (c *Client) putFallback(ctx context.Context, p string, ops []PatchOp) error {
	var raw json.RawMessage
	h, err := c.do(ctx, http.MethodGet, p, nil, nil, &raw)
	if err != nil {
		return err
	}
	generic, err := decodeGeneric(raw)
	if err != nil {
		return fault.Permanent(fmt.Errorf("scim: GET %s: decode: %w", p, err))
	}
	doc, ok := generic.(map[string]any)
	if !ok {
		return fault.Permanent(fmt.Errorf("scim: GET %s: resource is not a JSON object", p))
	}
	if err := applyPatch(doc, ops); err != nil {
		var nt errNoTarget
		if errors.As(err, &nt) {
			return localError(http.MethodPatch, p, http.StatusBadRequest, "noTarget", err.Error())
		}
		return localError(http.MethodPatch, p, http.StatusBadRequest, "invalidValue", err.Error())
	}
	for _, ro := range []string{"meta", "groups"} { // read-only (RFC 7643 §3.1, §4.1.2)
		if k, ok := lookupKey(doc, ro); ok {
			delete(doc, k)
		}
	}
	var hdr http.Header
	if etag := h.Get("ETag"); etag != "" {
		hdr = http.Header{"If-Match": {etag}}
	}
	_, err = c.do(ctx, http.MethodPut, p, doc, hdr, nil)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusPreconditionFailed && hdr != nil {
		return classify(e, true)
	}
	return err
}

// list reads every page of a query (RFC 7644 §3.4.2.4: startIndex is
// 1-based, count a page size the provider may lower) and calls each for
// every resource, skipping resources a shifting page shows twice (by id).
func (c *Client) list(ctx context.Context, collection string, filter Filter, each func(json.RawMessage) error) error {
	seen := map[string]bool{}
	read := 0
	for start := 1; ; {
		q := "startIndex=" + strconv.Itoa(start) + "&count=" + strconv.Itoa(c.pageSize)
		if !filter.IsZero() {
			// One escaping of the whole expression, spaces as %20 so no
			// server can read a '+' in the value as a space.
			q = "filter=" + strings.ReplaceAll(url.QueryEscape(filter.String()), "+", "%20") + "&" + q
		}
		var page listResponse
		if _, err := c.do(ctx, http.MethodGet, collection+"?"+q, nil, nil, &page); err != nil {
			return err
		}
		fresh := 0
		for _, r := range page.Resources {
			var probe struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(r, &probe)
			if probe.ID != "" && seen[probe.ID] {
				continue
			}
			if read++; read > c.maxResults {
				return fault.Permanent(fmt.Errorf("scim: GET %s: more than %d results; narrow the filter or raise MaxResults", collection, c.maxResults))
			}
			if err := each(r); err != nil {
				return err
			}
			if probe.ID != "" {
				seen[probe.ID] = true
			}
			fresh++
		}
		n := len(page.Resources)
		start += n
		// Done when the page is empty, or everything counted is read, or
		// the provider keeps answering with resources already seen.
		if n == 0 || start > page.TotalResults || fresh == 0 {
			return nil
		}
	}
}

// do sends one request, bounded by c.timeout, and decodes a 2xx body into
// out (when out is non-nil and there is a body). It returns the response
// headers.
func (c *Client) do(ctx context.Context, method, path string, in any, hdr http.Header, out any) (http.Header, error) {
	// What errors may say about the request: method and path, no query.
	errPath, _, _ := strings.Cut(path, "?")
	if method == http.MethodGet && c.pace != nil {
		if err := c.pace(ctx); err != nil {
			return nil, err
		}
	}

	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fault.Permanent(fmt.Errorf("scim: %s %s: encode body: %w", method, errPath, err))
		}
		body = bytes.NewReader(b)
	}
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, method, c.base+path, body)
	if err != nil {
		return nil, fault.Permanent(fmt.Errorf("scim: %s %s: build request: %w", method, errPath, unwrapURLError(err)))
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set(c.authHeader, c.authValue)
	req.Header.Set("Accept", ContentType+", application/json")
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportErr(ctx, actx, method, errPath, err)
	}
	defer resp.Body.Close()
	c.answered(ctx, method, resp)

	if resp.StatusCode >= 200 && resp.StatusCode <= 299 && out == nil {
		// Done, and the answer is not needed: however large it is (a
		// group PATCH is answered with the whole group), drain a bounded
		// part so the connection is reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, c.maxBody))
		return resp.Header, nil
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, c.transportErr(ctx, actx, method, errPath, err)
	}
	if int64(len(raw)) > c.maxBody {
		return nil, fault.Permanent(fmt.Errorf("scim: %s %s: response body exceeds %d bytes", method, errPath, c.maxBody))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := parseError(resp.StatusCode, resp.Header, raw, c.token, c.now())
		e.Method, e.Path = method, errPath
		e.conflict = method == http.MethodPost && slices.Contains(c.profile.CreateConflictStatus, resp.StatusCode)
		e.transient = c.signalled(e, resp.Header)
		return nil, classify(e, e.transient || transientStatus(resp.StatusCode))
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(raw, out); err != nil {
			// A 2xx body we cannot read will not improve on retry.
			return nil, fault.Permanent(fmt.Errorf("scim: %s %s: decode response: %w", method, errPath, err))
		}
	}
	return resp.Header, nil
}

// answered reports the vendor's answer to the pacer (Config.Observe).
// This is the one place that sees every answer: the worker sees only the
// error an event ends with, so a coalesced group PATCH's 429 would reach
// it once per joiner in the batch, and the lookups and reactivation a
// create's adoption makes not at all. The client itself never retries,
// so each answer is reported once.
func (c *Client) answered(ctx context.Context, method string, resp *http.Response) {
	if c.observe == nil || resp.StatusCode >= 500 {
		return
	}
	status := resp.StatusCode
	if status == http.StatusTooManyRequests || (status == http.StatusForbidden && c.signalled(&Error{Status: status}, resp.Header)) {
		c.observe(ctx, ratelimit.Outcome{Throttled: true, RetryAfter: retryDelay(resp.Header, c.now())})
		return
	}
	if method != http.MethodGet || c.pace != nil {
		c.observe(ctx, ratelimit.Outcome{}) // took a token and was not throttled
	}
}

// signalled reports whether the profile marks this response transient.
func (c *Client) signalled(e *Error, h http.Header) bool {
	for _, s := range c.profile.Transient {
		if s.Status != 0 && s.Status != e.Status {
			continue
		}
		if s.Header != "" {
			v, ok := h[http.CanonicalHeaderKey(s.Header)]
			if !ok || (s.Value != "" && (len(v) == 0 || strings.TrimSpace(v[0]) != s.Value)) {
				continue
			}
		}
		if s.Detail != "" {
			w := strings.ToLower(s.Detail)
			if !strings.Contains(strings.ToLower(e.Detail), w) && !strings.Contains(strings.ToLower(e.ScimType), w) {
				continue
			}
		}
		return true
	}
	return false
}

// transportErr describes a request that got no usable response. It is
// transient (a plain error): a network failure, the per-call timeout, or
// the caller's context ending (reported as such). The URL, which may hold
// a filter with e-mail addresses, is left out.
func (c *Client) transportErr(ctx, actx context.Context, method, path string, err error) error {
	err = unwrapURLError(err)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("scim: %s %s: %w", method, path, ctx.Err())
	case actx.Err() != nil:
		return fmt.Errorf("scim: %s %s: timed out after %s: %w", method, path, c.timeout, context.DeadlineExceeded)
	}
	return fmt.Errorf("scim: %s %s: %w", method, path, err)
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
