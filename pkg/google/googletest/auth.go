package googletest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2/jws"
)

// The OAuth scopes of the Admin SDK the fake knows, as Google names them.
const (
	ScopeUser            = "https://www.googleapis.com/auth/admin.directory.user"
	ScopeUserReadonly    = "https://www.googleapis.com/auth/admin.directory.user.readonly"
	ScopeUserSecurity    = "https://www.googleapis.com/auth/admin.directory.user.security"
	ScopeGroup           = "https://www.googleapis.com/auth/admin.directory.group"
	ScopeGroupReadonly   = "https://www.googleapis.com/auth/admin.directory.group.readonly"
	ScopeMember          = "https://www.googleapis.com/auth/admin.directory.group.member"
	ScopeMemberReadonly  = "https://www.googleapis.com/auth/admin.directory.group.member.readonly"
	ScopeLicensing       = "https://www.googleapis.com/auth/apps.licensing"
	jwtBearerGrant       = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	accessTokenLifetime  = time.Hour
	maxAssertionLifetime = time.Hour
	clockSkew            = 5 * time.Minute
)

// serviceAccount is the fake's service account: its key, as the JSON file
// the Cloud console hands out, and its OAuth client id, which a super
// admin authorises for domain-wide delegation.
type serviceAccount struct {
	key      *rsa.PrivateKey
	keyID    string
	email    string
	clientID string
}

func newServiceAccount(project string) (serviceAccount, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return serviceAccount{}, err
	}
	id := make([]byte, 20)
	_, _ = rand.Read(id)
	return serviceAccount{
		key:      k,
		keyID:    hex.EncodeToString(id),
		email:    "keycard@" + project + ".iam.gserviceaccount.com",
		clientID: "1" + digits(20),
	}, nil
}

// digits is n random decimal digits: Google's numeric ids (client ids,
// user ids) look like that.
func digits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}

// keyJSON is the service account's key file, its token_uri pointing at
// tokenURL.
func (sa serviceAccount) keyJSON(project, tokenURL string) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(sa.key)
	if err != nil {
		panic(err) // an RSA key always marshals
	}
	doc := map[string]string{
		"type":                        "service_account",
		"project_id":                  project,
		"private_key_id":              sa.keyID,
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                sa.email,
		"client_id":                   sa.clientID,
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   tokenURL,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"universe_domain":             "googleapis.com",
	}
	raw, _ := json.MarshalIndent(doc, "", "  ")
	return raw
}

// grant is what an access token the fake issued stands for.
type grant struct {
	subject string // the impersonated user; "" for the service account itself
	scopes  []string
	expires time.Time
}

// tokenError is an OAuth 2.0 error answer of Google's token endpoint.
func tokenError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// serveToken is Google's token endpoint for the JWT bearer grant (RFC
// 7523), as a service account with domain-wide delegation uses it: the
// assertion is signed with the key, names the service account (iss), the
// user to impersonate (sub) and the scopes; the scopes must be among those
// the super admin authorised for the client id, or the answer is
// unauthorized_client.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		tokenError(w, http.StatusMethodNotAllowed, "invalid_request", "POST required")
		return
	}
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	if r.PostForm.Get("grant_type") != jwtBearerGrant {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+r.PostForm.Get("grant_type"))
		return
	}
	assertion := r.PostForm.Get("assertion")
	if err := jws.Verify(assertion, &s.sa.key.PublicKey); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	claims, err := jws.Decode(assertion)
	if err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: malformed claims.")
		return
	}
	now := s.now()
	iat, exp := time.Unix(claims.Iat, 0), time.Unix(claims.Exp, 0)
	switch {
	case claims.Iss != s.sa.email:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid issuer: No service account found for this key.")
		return
	case claims.Aud != s.TokenURL():
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
		return
	case exp.Sub(iat) > maxAssertionLifetime || iat.After(now.Add(clockSkew)) || exp.Before(now.Add(-clockSkew)):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
		return
	case claims.Scope == "":
		tokenError(w, http.StatusBadRequest, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	scopes := strings.Fields(claims.Scope)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Tokens++
	if claims.Sub != "" {
		if s.db.userID(claims.Sub) == "" && !s.admins[strings.ToLower(claims.Sub)] {
			tokenError(w, http.StatusBadRequest, "invalid_grant", "Invalid email or User ID")
			return
		}
		for _, sc := range scopes {
			if !slices.Contains(s.delegated, sc) {
				tokenError(w, http.StatusUnauthorized, "unauthorized_client",
					"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")
				return
			}
		}
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "ya29.fake-" + hex.EncodeToString(b)
	s.grants[tok] = grant{subject: strings.ToLower(claims.Sub), scopes: scopes, expires: now.Add(accessTokenLifetime)}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(accessTokenLifetime.Seconds()),
	})
}

// authorize finds the grant of the request's bearer token and checks it
// for one of the route's scopes and an admin subject. The caller holds
// s.mu.
func (s *Server) authorize(r *http.Request, scopes []string) (grant, *apiError) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return grant{}, errorf(http.StatusUnauthorized, ReasonRequired,
			"Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
	}
	g, ok := s.grants[strings.TrimSpace(tok)]
	if !ok || !s.now().Before(g.expires) {
		return grant{}, errorf(http.StatusUnauthorized, ReasonAuthError,
			"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
	}
	if !slices.ContainsFunc(g.scopes, func(sc string) bool { return slices.Contains(scopes, sc) }) {
		return grant{}, errorf(http.StatusForbidden, ReasonInsufficientScope, "Request had insufficient authentication scopes.")
	}
	if !s.admins[g.subject] {
		// The service account itself, or a user who is no admin: Google
		// issues the token and refuses the call.
		return grant{}, errorf(http.StatusForbidden, ReasonForbidden, "Not Authorized to access this resource/api")
	}
	return g, nil
}
