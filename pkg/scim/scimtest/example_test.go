package scimtest_test

import (
	"fmt"
	"net/http"
	"strings"

	"keycard/pkg/scim/scimtest"
)

// send makes one authorised SCIM request and returns the status and the
// Retry-After header.
func send(srv *scimtest.Server, method, path, body string) (int, string) {
	req, err := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+srv.Token())
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

const jdoe = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
	"userName":"jdoe@example.com","emails":[{"value":"jdoe@example.com","primary":true}]}`

// A Slack stand-in: DELETE deactivates, and the deactivated user's email
// cannot be provisioned again.
func Example() {
	srv := scimtest.New(scimtest.Slack(), scimtest.WithBasePath("/scim/v2"))
	defer srv.Close()

	status, _ := send(srv, http.MethodPost, "/Users", jdoe)
	fmt.Println("create:", status)
	id := srv.Users()[0].ID
	status, _ = send(srv, http.MethodDelete, "/Users/"+id, "")
	fmt.Println("delete:", status, "active:", srv.Users()[0].Active)
	status, _ = send(srv, http.MethodPost, "/Users", jdoe)
	fmt.Println("re-create:", status)
	// Output:
	// create: 201
	// delete: 204 active: false
	// re-create: 409
}

func ExampleServer_RateLimit() {
	srv := scimtest.New()
	defer srv.Close()
	srv.RateLimit(60, 1) // one write a second, no burst

	for i := range 2 {
		body := strings.Replace(jdoe, "jdoe@", fmt.Sprintf("jdoe%d@", i), 2)
		status, retryAfter := send(srv, http.MethodPost, "/Users", body)
		fmt.Printf("%d %q\n", status, retryAfter)
	}
	fmt.Println("429s served:", srv.Requests().RateLimited)
	// Output:
	// 201 ""
	// 429 "1"
	// 429s served: 1
}

func ExampleServer_FailNext() {
	srv := scimtest.New(scimtest.Atlassian())
	defer srv.Close()
	srv.FailNext(2, http.StatusServiceUnavailable, "maintenance")

	for range 3 {
		status, _ := send(srv, http.MethodGet, "/Users", "")
		fmt.Println(status)
	}
	// Output:
	// 503
	// 503
	// 200
}
