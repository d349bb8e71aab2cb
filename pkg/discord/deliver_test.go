package discord

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"keycard/pkg/fault"
)

// testCert is a self-signed certificate for 127.0.0.1 and the pool that
// trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// relay is a real SMTP server (emersion/go-smtp) on a loopback port,
// keeping what it accepts.
type relay struct {
	addr string
	pool *x509.CertPool

	mu       sync.Mutex
	mails    []received
	rcptCode int // answer RCPT with this code when set
	tls      bool
}

type received struct {
	from, to string
	data     []byte
	tls      bool
}

type relaySession struct {
	r    *relay
	c    *smtp.Conn
	cur  received
	user string
}

const relayUser, relayPassword = "keycard", "s3cret-relay-password"

func (s *relaySession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *relaySession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != relayUser || password != relayPassword {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		s.user = username
		return nil
	}), nil
}
func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error {
	if s.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	s.cur.from = from
	return nil
}
func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.r.mu.Lock()
	code := s.r.rcptCode
	s.r.mu.Unlock()
	if code != 0 {
		return &smtp.SMTPError{Code: code, Message: "mailbox busy or unknown"}
	}
	s.cur.to = to
	return nil
}
func (s *relaySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, s.cur.tls = s.c.TLSConnectionState()
	s.cur.data = b
	s.r.mu.Lock()
	s.r.mails = append(s.r.mails, s.cur)
	s.r.mu.Unlock()
	return nil
}
func (s *relaySession) Reset()        { s.cur = received{} }
func (s *relaySession) Logout() error { return nil }

// startRelay runs the relay, with STARTTLS when withTLS.
func startRelay(t *testing.T, withTLS bool) *relay {
	t.Helper()
	r := &relay{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &relaySession{r: r, c: c}, nil }))
	srv.Domain = "relay.test"
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	if withTLS {
		cert, pool := testCert(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		r.pool = pool
	} else {
		srv.AllowInsecureAuth = true
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

func (r *relay) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.mails...)
}

func ada() Invitation {
	return Invitation{EmployeeID: "e1001", Name: "Ada Lovelace", GivenName: "Ada", Email: "ada@example.com", Guild: "Acme",
		URL: "https://discord.gg/Secr3tCode", Expires: time.Date(2026, 12, 11, 9, 0, 0, 0, time.UTC), Note: "Reply to hr@example.com with your user id."}
}

// An invitation goes through a real SMTP server over STARTTLS with AUTH
// PLAIN: one message to the work address, its headers encoded, the link
// in its body.
func TestSMTPDelivers(t *testing.T) {
	t.Parallel()
	r := startRelay(t, true)
	s, err := NewSMTP(SMTPConfig{Addr: r.addr, From: "Keycard <keycard@example.com>", Username: relayUser, Password: relayPassword,
		TLSConfig: &tls.Config{RootCAs: r.pool}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	inv := ada()
	inv.Name = "Ada Lovelace\r\nBcc: everyone@example.com" // HR data must not add a header
	if err := s.Deliver(t.Context(), inv); err != nil {
		t.Fatal(err)
	}
	got := r.received()
	if len(got) != 1 {
		t.Fatalf("relay got %d messages; want 1", len(got))
	}
	m := got[0]
	if m.from != "keycard@example.com" || m.to != "ada@example.com" || !m.tls {
		t.Fatalf("envelope %s → %s (tls %v); want keycard@example.com → ada@example.com over TLS", m.from, m.to, m.tls)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(m.data)))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Bcc") != "" {
		t.Fatalf("a name from HR added a header: Bcc %q", msg.Header.Get("Bcc"))
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if subject != "Your invitation to Acme on Discord" {
		t.Errorf("Subject %q", subject)
	}
	to, err := mail.ParseAddress(msg.Header.Get("To"))
	if err != nil || to.Address != "ada@example.com" {
		t.Errorf("To %q (%v)", msg.Header.Get("To"), err)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	for _, want := range []string{"Hello Ada,", "https://discord.gg/Secr3tCode", "works once", "Fri 11 Dec 2026", "Copy User ID", "hr@example.com"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(inv.String(), inv.URL) {
		t.Error("Invitation.String shows the invite URL")
	}
}

// The relay's answers keep their class: 535 is an auth failure (the
// worker pauses the app), 550 permanent, 451 transient; no error shows
// the password or the invite.
func TestSMTPErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		password  string
		rcpt      int
		permanent bool
		auth      bool
	}{
		{"wrong password", "wrong", 0, true, true},
		{"mailbox unknown", relayPassword, 550, true, false},
		{"greylisted", relayPassword, 451, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := startRelay(t, true)
			r.rcptCode = tt.rcpt
			s, err := NewSMTP(SMTPConfig{Addr: r.addr, From: "keycard@example.com", Username: relayUser, Password: tt.password,
				TLSConfig: &tls.Config{RootCAs: r.pool}, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Deliver(t.Context(), ada())
			if err == nil || fault.IsPermanent(err) != tt.permanent || fault.IsAuth(err) != tt.auth {
				t.Fatalf("Deliver = %v; want permanent %v, auth %v", err, tt.permanent, tt.auth)
			}
			if strings.Contains(err.Error(), tt.password) || strings.Contains(err.Error(), "Secr3tCode") {
				t.Fatalf("error %q shows the password or the invite", err)
			}
			if len(r.received()) != 0 {
				t.Fatal("the relay accepted a message")
			}
		})
	}
}

// TLS is required: a relay without STARTTLS is refused before anything
// is sent (the password would go in the clear), and "none" is only for a
// relay on this machine.
func TestSMTPRequiresTLS(t *testing.T) {
	t.Parallel()
	r := startRelay(t, false)
	s, err := NewSMTP(SMTPConfig{Addr: r.addr, From: "keycard@example.com", Username: relayUser, Password: relayPassword, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Deliver(t.Context(), ada()); !fault.IsPermanent(err) || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("Deliver to a relay without STARTTLS = %v; want a permanent error naming STARTTLS", err)
	}
	plain, err := NewSMTP(SMTPConfig{Addr: r.addr, From: "keycard@example.com", Username: relayUser, Password: relayPassword, TLS: SMTPNone, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Deliver(t.Context(), ada()); err != nil || len(r.received()) != 1 {
		t.Fatalf("Deliver in the clear to a loopback relay = %v (%d received)", err, len(r.received()))
	}
	if _, err := NewSMTP(SMTPConfig{Addr: "smtp.example.com:25", From: "keycard@example.com", TLS: SMTPNone}); err == nil {
		t.Fatal("smtp_tls none accepted for a remote relay")
	}
}

// A relay that accepts the connection and says nothing does not hold the
// worker past the timeout.
func TestSMTPTimeout(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	s, _ := NewSMTP(SMTPConfig{Addr: l.Addr().String(), From: "keycard@example.com", Timeout: 300 * time.Millisecond})
	start := time.Now()
	err = s.Deliver(t.Context(), ada())
	if err == nil || fault.IsPermanent(err) || time.Since(start) > 3*time.Second {
		t.Fatalf("Deliver to a silent relay = %v after %s; want a transient error within the timeout", err, time.Since(start))
	}
}

// The Slack webhook gets {"text": …} with mrkdwn escaped; Slack's answers
// keep their class, and no error shows the webhook's secret path.
func TestSlack(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bodies []string
	status, answer, retry := http.StatusOK, "ok", ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		bodies = append(bodies, string(b))
		if retry != "" {
			w.Header().Set("Retry-After", retry)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	defer srv.Close()
	const secretPath = "/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
	s, err := NewSlack(srv.URL+secretPath, srv.Client(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	inv := ada()
	inv.Name = "<!channel> Ada & co"
	if err := s.Deliver(t.Context(), inv); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := bodies[0]
	mu.Unlock()
	for _, want := range []string{`"text":`, "https://discord.gg/Secr3tCode", `\u0026lt;!channel\u0026gt; Ada \u0026amp; co`, "e1001"} {
		if !strings.Contains(got, want) {
			t.Errorf("webhook body lacks %q: %s", want, got)
		}
	}
	tests := []struct {
		status    int
		answer    string
		retry     string
		permanent bool
		auth      bool
		hint      time.Duration
	}{
		{http.StatusBadRequest, "invalid_payload", "", true, false, 0},
		{http.StatusForbidden, "action_prohibited", "", true, true, 0},
		{http.StatusNotFound, "no_service", "", true, true, 0},
		{http.StatusGone, "channel_is_archived", "", true, true, 0},
		{http.StatusTooManyRequests, "rate_limited", "30", false, false, 30 * time.Second},
		{http.StatusInternalServerError, "", "", false, false, 0},
	}
	for _, tt := range tests {
		mu.Lock()
		status, answer, retry = tt.status, tt.answer, tt.retry
		mu.Unlock()
		err := s.Deliver(t.Context(), ada())
		hint, _ := fault.RetryAfterHint(err)
		if err == nil || fault.IsPermanent(err) != tt.permanent || fault.IsAuth(err) != tt.auth || hint != tt.hint {
			t.Errorf("Slack %d = %v; want permanent %v auth %v hint %v", tt.status, err, tt.permanent, tt.auth, tt.hint)
		}
		if err != nil && (strings.Contains(err.Error(), "XXXXXXXX") || strings.Contains(err.Error(), "Secr3tCode")) {
			t.Errorf("error %q shows the webhook or the invite", err)
		}
	}
	srv.Close()
	if err := s.Deliver(t.Context(), ada()); err == nil || strings.Contains(err.Error(), "XXXXXXXX") || fault.IsPermanent(err) {
		t.Errorf("Deliver to a closed server = %v; want transient, without the URL", err)
	}
	if _, err := NewSlack("http://hooks.slack.com/services/x", nil, 0); err == nil {
		t.Error("a plain-http webhook was accepted")
	}
}
