package googletest

import (
	"net/http"
	"slices"
	"strconv"
)

// signOut is users.signOut: every web and device session ends. Google
// answers 204.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	u := s.db.user(r.PathValue("userKey"))
	if u == nil {
		return notFound("userKey")
	}
	u.SignOuts++
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listASPs(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	u := s.db.user(r.PathValue("userKey"))
	if u == nil {
		return notFound("userKey")
	}
	items := []any{}
	for _, a := range u.ASPs {
		items = append(items, map[string]any{"kind": "admin#directory#asp", "codeId": a.CodeID, "name": a.Name, "userKey": u.ID, "etag": etag(a.CodeID)})
	}
	body := map[string]any{"kind": "admin#directory#asps", "etag": etag(u.ID, len(items))}
	if len(items) > 0 {
		body["items"] = items
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) deleteASP(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	u := s.db.user(r.PathValue("userKey"))
	if u == nil {
		return notFound("userKey")
	}
	code, err := strconv.ParseInt(r.PathValue("codeId"), 10, 32)
	if err != nil {
		return invalid("Invalid value for: codeId")
	}
	i := slices.IndexFunc(u.ASPs, func(a ASP) bool { return a.CodeID == code })
	if i < 0 {
		return notFound("codeId")
	}
	u.ASPs = slices.Delete(u.ASPs, i, i+1)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	u := s.db.user(r.PathValue("userKey"))
	if u == nil {
		return notFound("userKey")
	}
	items := []any{}
	for _, t := range u.Tokens {
		items = append(items, map[string]any{"kind": "admin#directory#token", "clientId": t.ClientID, "displayText": t.DisplayText,
			"scopes": t.Scopes, "userKey": u.ID, "anonymous": false, "nativeApp": false, "etag": etag(t.ClientID)})
	}
	body := map[string]any{"kind": "admin#directory#tokenList", "etag": etag(u.ID, len(items))}
	if len(items) > 0 {
		body["items"] = items
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request, _ grant) *apiError {
	u := s.db.user(r.PathValue("userKey"))
	if u == nil {
		return notFound("userKey")
	}
	i := slices.IndexFunc(u.Tokens, func(t Token) bool { return t.ClientID == r.PathValue("clientId") })
	if i < 0 {
		return notFound("clientId")
	}
	u.Tokens = slices.Delete(u.Tokens, i, i+1)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// AddASP gives the user an application-specific password and returns its
// code id.
func (s *Server) AddASP(userKey, name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.db.user(userKey)
	if u == nil {
		panic("googletest: AddASP: no user " + userKey)
	}
	s.db.nextASP++
	u.ASPs = append(u.ASPs, ASP{CodeID: s.db.nextASP, Name: name})
	return s.db.nextASP
}

// AddToken records that the user granted clientID (a third-party app)
// an OAuth token.
func (s *Server) AddToken(userKey, clientID, displayText string, scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.db.user(userKey)
	if u == nil {
		panic("googletest: AddToken: no user " + userKey)
	}
	u.Tokens = append(u.Tokens, Token{ClientID: clientID, DisplayText: displayText, Scopes: slices.Clone(scopes)})
}
