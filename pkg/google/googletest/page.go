package googletest

import (
	"encoding/base64"
	"net/http"
	"strconv"
)

// writePage answers one page of a listing as Google does: of items (sorted
// by key), those after the request's pageToken, at most maxResults
// (default def, at most most), as {"kind":…, "<field>":[…],
// "nextPageToken":…}; the list is left out when empty, as Google leaves
// it.
func writePage[T any](w http.ResponseWriter, r *http.Request, kind, field string, def, most int, items []T, key func(T) string, render func(T) any) *apiError {
	q := r.URL.Query()
	size, err := pageSize(q.Get("maxResults"), def, most)
	if err != nil {
		return err
	}
	after, err := decodeToken(q.Get("pageToken"))
	if err != nil {
		return err
	}
	var page []any
	last, next := "", ""
	for _, it := range items {
		k := key(it)
		if k <= after {
			continue
		}
		if len(page) == size {
			next = encodeToken(last)
			break
		}
		page, last = append(page, render(it)), k
	}
	body := map[string]any{"kind": kind, "etag": etag(len(page), next)}
	if len(page) > 0 {
		body[field] = page
	}
	if next != "" {
		body["nextPageToken"] = next
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func pageSize(raw string, def, most int) (int, *apiError) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > most {
		return 0, invalid("Invalid value for: maxResults")
	}
	return n, nil
}

// A page token is the key of the page's last item: a listing goes on
// after it however the items change meanwhile.
func encodeToken(after string) string { return base64.RawURLEncoding.EncodeToString([]byte(after)) }

func decodeToken(tok string) (string, *apiError) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", invalid("Invalid Input: pageToken")
	}
	return string(b), nil
}
