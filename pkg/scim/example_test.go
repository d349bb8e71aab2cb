package scim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"keycard/pkg/fault"
	"keycard/pkg/scim"
)

// tinyProvider is just enough of a SCIM server for the examples: one user
// "ada" exists, switched off; a create of her answers 409.
func tinyProvider() *httptest.Server {
	ada := map[string]any{"id": "U01", "externalId": "E42", "userName": "ada@example.com", "active": false}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", scim.ContentType)
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"schemas":["`+scim.ErrorSchema+`"],"status":"409","scimType":"uniqueness","detail":"userName taken"}`)
		case r.Method == http.MethodGet && r.URL.Path == "/scim/v2/Users":
			_ = json.NewEncoder(w).Encode(map[string]any{"totalResults": 1, "Resources": []any{ada}})
		case r.Method == http.MethodGet:
			_ = json.NewEncoder(w).Encode(ada)
		case r.Method == http.MethodPatch:
			var req struct{ Operations []scim.PatchOp }
			_ = json.Unmarshal(body, &req)
			for _, op := range req.Operations {
				ada[op.Path] = op.Value
			}
			w.WriteHeader(http.StatusNoContent)
		}
	}))
}

// A re-hire: the create says the account exists, so the connector adopts
// it by the id stored at the last sync and switches it back on.
func Example() {
	srv := tinyProvider()
	defer srv.Close()

	// In production: base, _ := scim.Asana().BaseURL(nil).
	c, err := scim.New(scim.Config{BaseURL: srv.URL + "/scim/v2", Token: "example-token", Profile: scim.Asana()})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	_, err = c.CreateUser(ctx, scim.User{ExternalID: "E42", Active: true, Emails: []scim.Email{{Value: "ada@example.com", Primary: true}}})
	fmt.Println("conflict:", scim.IsConflict(err), "permanent:", fault.IsPermanent(err))

	u, err := c.GetUser(ctx, "U01") // the stored provider id
	if err != nil {
		fmt.Println(err)
		return
	}
	if !u.Active {
		if err := c.SetActive(ctx, u.ID, true); err != nil {
			fmt.Println(err)
			return
		}
	}
	u, _ = c.GetUser(ctx, "U01")
	fmt.Println(u.UserName, "active:", u.Active)
	// Output:
	// conflict: true permanent: true
	// ada@example.com active: true
}

func ExampleEq() {
	f := scim.Or(
		scim.Eq("userName", `o"brien+keycard@example.com`),
		scim.And(scim.Eq("externalId", "E42"), scim.Eq("title", `C:\ops`)),
	)
	fmt.Println(f)
	fmt.Println(scim.Eq("user name", "x").Err())
	// Output:
	// userName eq "o\"brien+keycard@example.com" or (externalId eq "E42" and title eq "C:\\ops")
	// scim filter: attribute "user name" is not a SCIM attribute path
}

func ExampleProfile_BaseURL() {
	p := scim.GitHubEMU()
	base, err := p.BaseURL(map[string]string{"enterprise": "acme"})
	fmt.Println(base, err)
	_, err = p.BaseURL(map[string]string{"enterprize": "acme"})
	fmt.Println(err)
	fmt.Printf("pace: %d writes/min, burst %d\n", p.RateLimit.PerMinute(), p.RateLimit.Burst)
	// Output:
	// https://api.github.com/scim/v2/enterprises/acme <nil>
	// scim profile github-emu: base URL: missing {enterprise}
	// unknown parameter "enterprize"
	// pace: 16 writes/min, burst 1
}

func ExampleIsConflict() {
	err := fault.Permanent(&scim.Error{Status: http.StatusConflict, ScimType: "uniqueness"})
	fmt.Println(scim.IsConflict(err), scim.IsNotFound(err))

	rate := fault.RetryAfter(30*time.Second, &scim.Error{Status: http.StatusTooManyRequests, RetryAfter: 30 * time.Second})
	d, ok := fault.RetryAfterHint(rate)
	var e *scim.Error
	fmt.Println(d, ok, errors.As(rate, &e) && e.Status == 429)
	// Output:
	// true false
	// 30s true true
}
