package googletest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

// token is an access token for the admin, by the JWT flow against srv.
func token(t *testing.T, srv *Server, key []byte, scopes ...string) (string, error) {
	t.Helper()
	cfg, err := google.JWTConfigFromJSON(key, scopes...)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Subject = srv.AdminEmail()
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, srv.Client())
	tok, err := cfg.TokenSource(ctx).Token()
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

// do sends one API request and decodes the JSON answer.
func do(t *testing.T, srv *Server, tok, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, srv.URL()+strings.TrimPrefix(path, "/"), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func reason(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	items, _ := e["errors"].([]any)
	if len(items) == 0 {
		return ""
	}
	r, _ := items[0].(map[string]any)["reason"].(string)
	return r
}

// The token endpoint checks the assertion as Google does: signed with the
// service account's key, for scopes the admin delegated.
func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	srv := New(WithDelegatedScopes(ScopeUser))
	t.Cleanup(srv.Close)
	if _, err := token(t, srv, srv.Key(), ScopeUser); err != nil {
		t.Fatalf("delegated scope: %v", err)
	}
	_, err := token(t, srv, srv.Key(), ScopeUser, ScopeLicensing)
	if re, ok := err.(*oauth2.RetrieveError); !ok || re.Response.StatusCode != 401 || !strings.Contains(string(re.Body), "unauthorized_client") {
		t.Errorf("undelegated scope: %v; want 401 unauthorized_client", err)
	}
	// The same key file with another private key: the signature fails.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKCS8PrivateKey(other)
	var doc map[string]string
	_ = json.Unmarshal(srv.Key(), &doc)
	doc["private_key"] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	forged, _ := json.Marshal(doc)
	_, err = token(t, srv, forged, ScopeUser)
	if re, ok := err.(*oauth2.RetrieveError); !ok || !strings.Contains(string(re.Body), "invalid_grant") {
		t.Errorf("forged key: %v; want invalid_grant", err)
	}
}

// Google's shapes: the JSON error body with its reason, 409 duplicate for
// a taken address, the scope each method needs, no token at all.
func TestErrorsAsGoogleWritesThem(t *testing.T) {
	t.Parallel()
	srv := New()
	t.Cleanup(srv.Close)
	tok, err := token(t, srv, srv.Key(), ScopeUser)
	if err != nil {
		t.Fatal(err)
	}
	user := `{"primaryEmail":"ada@example.com","name":{"givenName":"Ada","familyName":"L"},"password":"correct horse battery"}`
	if code, _ := do(t, srv, tok, "POST", "admin/directory/v1/users", user); code != 200 {
		t.Fatalf("insert = %d", code)
	}
	tests := []struct {
		name, method, path, body string
		status                   int
		reason, message          string
	}{
		{"duplicate", "POST", "admin/directory/v1/users", user, 409, "duplicate", "Entity already exists."},
		{"no password", "POST", "admin/directory/v1/users", `{"primaryEmail":"b@example.com","name":{"givenName":"B","familyName":"C"}}`, 400, "invalid", "Invalid Password"},
		{"other domain", "POST", "admin/directory/v1/users", `{"primaryEmail":"b@other.org","name":{"givenName":"B","familyName":"C"},"password":"12345678"}`, 400, "notFound", "Domain not found."},
		{"missing org unit", "POST", "admin/directory/v1/users", `{"primaryEmail":"b@example.com","name":{"givenName":"B","familyName":"C"},"password":"12345678","orgUnitPath":"/Nope"}`, 400, "invalid", "Invalid Input: INVALID_OU_ID"},
		{"no such user", "GET", "admin/directory/v1/users/nobody@example.com", "", 404, "notFound", "Resource Not Found: userKey"},
		{"scope missing", "POST", "admin/directory/v1/users/ada@example.com/signOut", "", 403, "insufficientPermissions", "Request had insufficient authentication scopes."},
		{"injected rate limit", "GET", "admin/directory/v1/users/ada@example.com", "", 403, "userRateLimitExceeded", "injected failure"},
	}
	for _, tt := range tests {
		if tt.name == "injected rate limit" {
			srv.FailNext(1, Failure{Status: 403, Reason: "userRateLimitExceeded"})
		}
		code, body := do(t, srv, tok, tt.method, tt.path, tt.body)
		e, _ := body["error"].(map[string]any)
		if code != tt.status || reason(body) != tt.reason || e["message"] != tt.message || e["code"] != float64(tt.status) {
			t.Errorf("%s: %d %v; want %d %s %q", tt.name, code, body, tt.status, tt.reason, tt.message)
		}
	}
	if code, body := do(t, srv, "not-a-token", "GET", "admin/directory/v1/users/ada@example.com", ""); code != 401 || reason(body) != "authError" {
		t.Errorf("bad token: %d %v; want 401 authError", code, body)
	}
}

// users.list pages by primary address and searches by external id.
func TestUsersListPagesAndSearches(t *testing.T) {
	t.Parallel()
	srv := New()
	t.Cleanup(srv.Close)
	for _, e := range []string{"c", "a", "e", "b", "d"} {
		srv.AddUser(User{PrimaryEmail: e + "@example.com", GivenName: "G", FamilyName: "F", ExternalIDs: []ExternalID{{Type: "organization", Value: "id-" + e}}})
	}
	tok, err := token(t, srv, srv.Key(), ScopeUserReadonly)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	next := ""
	for pages := 0; ; pages++ {
		q := url.Values{"customer": {"my_customer"}, "maxResults": {"2"}}
		if next != "" {
			q.Set("pageToken", next)
		}
		code, body := do(t, srv, tok, "GET", "admin/directory/v1/users?"+q.Encode(), "")
		if code != 200 || pages > 5 {
			t.Fatalf("page %d: %d %v", pages, code, body)
		}
		users, _ := body["users"].([]any)
		for _, u := range users {
			got = append(got, u.(map[string]any)["primaryEmail"].(string))
		}
		if next, _ = body["nextPageToken"].(string); next == "" {
			break
		}
	}
	if strings.Join(got, " ") != "a@example.com b@example.com c@example.com d@example.com e@example.com" {
		t.Errorf("listed %v", got)
	}
	_, body := do(t, srv, tok, "GET", "admin/directory/v1/users?customer=my_customer&query="+url.QueryEscape("externalId:'id-d'"), "")
	if users, _ := body["users"].([]any); len(users) != 1 || users[0].(map[string]any)["primaryEmail"] != "d@example.com" {
		t.Errorf("externalId search: %v", body)
	}
	if code, body := do(t, srv, tok, "GET", "admin/directory/v1/users?customer=my_customer&maxResults=501", ""); code != 400 {
		t.Errorf("maxResults 501: %d %v; want 400 (500 at most)", code, body)
	}
}

// The quota is per impersonated admin, a minute's worth at once, and
// refills at the scaled rate.
func TestQuota(t *testing.T) {
	t.Parallel()
	srv := New(WithQueriesPerMinute(3))
	t.Cleanup(srv.Close)
	tok, err := token(t, srv, srv.Key(), ScopeUser)
	if err != nil {
		t.Fatal(err)
	}
	var codes []int
	for range 4 {
		code, body := do(t, srv, tok, "GET", "admin/directory/v1/users/nobody@example.com", "")
		codes = append(codes, code)
		if code == 403 && reason(body) != "userRateLimitExceeded" {
			t.Errorf("quota answer %v", body)
		}
	}
	if codes[2] != 404 || codes[3] != 403 || srv.Requests().RateLimited != 1 {
		t.Errorf("answers %v; want three served (404) and the fourth refused (403)", codes)
	}
}
