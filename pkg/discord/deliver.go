package discord

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"keycard/pkg/fault"
	"keycard/pkg/redact"
	"keycard/pkg/retryafter"
)

// Invitation is one invite on its way to a joiner. URL is the invite
// itself (whoever has it can join, once): it goes into the delivered
// message and nowhere else; String and errors never show it.
type Invitation struct {
	EmployeeID string
	Name       string // the person's display name
	GivenName  string
	Email      string // the work address
	Guild      string // the guild's name
	URL        string
	Expires    time.Time // zero: never
	Note       string    // the app's invite_note: how to get the user id to HR
}

// String names the invitation without its URL.
func (i Invitation) String() string {
	return fmt.Sprintf("invitation of employee %s to %s", i.EmployeeID, i.Guild)
}

// Deliverer hands an invitation to the person.
type Deliverer interface {
	Deliver(ctx context.Context, inv Invitation) error
	// Describe says how, for provctl: "e-mail via smtp.example.com:587".
	Describe() string
}

// text is the message body both deliverers send.
func (i Invitation) text(greeting bool) string {
	var b strings.Builder
	if greeting {
		fmt.Fprintf(&b, "Hello %s,\n\n", firstNonEmpty(i.GivenName, i.Name, "there"))
		fmt.Fprintf(&b, "you are invited to join %s on Discord:\n\n    %s\n\n", i.Guild, i.URL)
	} else {
		fmt.Fprintf(&b, "Discord invite to %s for %s (%s, employee %s):\n%s\n", i.Guild, i.Name, i.Email, i.EmployeeID, i.URL)
	}
	b.WriteString("The link works once")
	if !i.Expires.IsZero() {
		fmt.Fprintf(&b, " and expires %s", i.Expires.UTC().Format("Mon 2 Jan 2006 15:04 MST"))
	}
	b.WriteString(". With no Discord account yet, the link lets you make one.\n")
	b.WriteString("Your roles follow once your Discord user id is in the HR system " +
		"(Discord: User Settings > Advanced > Developer Mode on, then right-click your name > Copy User ID).\n")
	if i.Note != "" {
		b.WriteString("\n" + i.Note + "\n")
	}
	return b.String()
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// ---- e-mail -------------------------------------------------------------------

// TLS modes of an SMTP relay.
const (
	SMTPStartTLS = "starttls" // plain connection upgraded with STARTTLS, which must be offered (port 587, 25)
	SMTPTLS      = "tls"      // TLS from the first byte (port 465)
	SMTPNone     = "none"     // no TLS: only to a relay on this machine
)

// SMTPConfig is an SMTP relay Keycard submits invitations to.
type SMTPConfig struct {
	Addr     string // host:port
	From     string // the envelope and header sender
	Username string // "" sends without AUTH
	Password string
	TLS      string // SMTPStartTLS (default), SMTPTLS or SMTPNone
	Timeout  time.Duration
	// TLSConfig overrides the client TLS configuration (tests trust their
	// own CA); ServerName defaults to Addr's host.
	TLSConfig *tls.Config
	// Hello is the name given in EHLO; default "localhost".
	Hello string
}

// SMTP delivers invitations by e-mail to the work address, through a
// relay, with net/smtp: one connection per message, bounded by Timeout,
// TLS required unless the relay is on this machine.
type SMTP struct {
	cfg  SMTPConfig
	host string
	from *mail.Address
}

// NewSMTP checks cfg.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("smtp_addr %q: want host:port", cfg.Addr)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp_from %q: %w", cfg.From, err)
	}
	switch cfg.TLS {
	case "":
		cfg.TLS = SMTPStartTLS
	case SMTPStartTLS, SMTPTLS:
	case SMTPNone:
		if !loopback(host) {
			return nil, fmt.Errorf("smtp_tls none: only for a relay on this machine, not %s", host)
		}
	default:
		return nil, fmt.Errorf("smtp_tls %q: want %s, %s or %s", cfg.TLS, SMTPStartTLS, SMTPTLS, SMTPNone)
	}
	if cfg.Username != "" && cfg.Password == "" {
		return nil, errors.New("smtp_username is set but its password is empty (smtp_password_env)")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Hello == "" {
		cfg.Hello = "localhost"
	}
	return &SMTP{cfg: cfg, host: host, from: from}, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Describe says where invitations go.
func (s *SMTP) Describe() string {
	return fmt.Sprintf("e-mail to the work address via %s (%s)", s.cfg.Addr, s.cfg.TLS)
}

// Deliver sends one message. A 5xx from the relay is permanent (535, the
// credentials refused, is an auth failure too); a 4xx, a timeout or a
// dropped connection is transient. The relay accepting DATA is delivery:
// a bounce later is the relay's to report.
func (s *SMTP) Deliver(ctx context.Context, inv Invitation) error {
	to, err := mail.ParseAddress(inv.Email)
	if err != nil || inv.Email == "" {
		return fault.Permanent(fmt.Errorf("e-mail %s: the work address %q is not an address", inv, inv.Email))
	}
	msg, err := s.message(inv, to)
	if err != nil {
		return fault.Permanent(fmt.Errorf("e-mail %s: %w", inv, err))
	}
	if err := s.send(ctx, to.Address, msg); err != nil {
		return fmt.Errorf("e-mail %s via %s: %w", inv, s.cfg.Addr, err)
	}
	return nil
}

func (s *SMTP) send(ctx context.Context, to string, msg []byte) (err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	tcfg := s.tlsConfig()
	d := &net.Dialer{}
	var conn net.Conn
	if s.cfg.TLS == SMTPTLS {
		conn, err = (&tls.Dialer{NetDialer: d, Config: tcfg}).DialContext(ctx, "tcp", s.cfg.Addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.cfg.Addr)
	}
	if err != nil {
		return err
	}
	// net/smtp takes no context: the deadline bounds every exchange, and
	// a cancelled context closes the connection.
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		_ = conn.Close()
		return smtpError(err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.Hello); err != nil {
		return smtpError(err)
	}
	if s.cfg.TLS == SMTPStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fault.Permanent(errors.New("the relay does not offer STARTTLS (set smtp_tls: tls for port 465)"))
		}
		if err := c.StartTLS(tcfg); err != nil {
			return smtpError(err)
		}
	}
	if s.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.host)); err != nil {
			return smtpError(err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return smtpError(err)
	}
	if err := c.Rcpt(to); err != nil {
		return smtpError(err)
	}
	w, err := c.Data()
	if err != nil {
		return smtpError(err)
	}
	if _, err := w.Write(msg); err != nil {
		return smtpError(err)
	}
	if err := w.Close(); err != nil {
		return smtpError(err)
	}
	_ = c.Quit()
	return nil
}

func (s *SMTP) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.cfg.TLSConfig != nil {
		cfg = s.cfg.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = s.host
	}
	return cfg
}

// smtpError classes a relay's reply; the password never appears in
// net/smtp's errors.
func smtpError(err error) error {
	var te *textproto.Error
	if !errors.As(err, &te) {
		return err
	}
	e := fmt.Errorf("smtp %d %s", te.Code, redact.Text(te.Msg, "", maxMessageRunes))
	switch {
	case te.Code == 535 || te.Code == 534 || te.Code == 530:
		return fault.Auth(fault.Permanent(e))
	case te.Code >= 500:
		return fault.Permanent(e)
	}
	return e
}

// message is the RFC 5322 message: text/plain UTF-8, quoted-printable.
// Header values from HR are encoded, never raw, so a name cannot add a
// header.
func (s *SMTP) message(inv Invitation, to *mail.Address) ([]byte, error) {
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	rcpt := &mail.Address{Name: oneLine(inv.Name), Address: to.Address}
	subject := fmt.Sprintf("Your invitation to %s on Discord", oneLine(inv.Guild))
	var b bytes.Buffer
	h := textproto.MIMEHeader{}
	h.Set("From", s.from.String())
	h.Set("To", rcpt.String())
	h.Set("Subject", mime.QEncoding.Encode("utf-8", subject))
	h.Set("Date", time.Now().UTC().Format(time.RFC1123Z))
	h.Set("Message-ID", "<"+hex.EncodeToString(id)+"@keycard>")
	h.Set("MIME-Version", "1.0")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	h.Set("Auto-Submitted", "auto-generated")
	for _, k := range []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted"} {
		fmt.Fprintf(&b, "%s: %s\r\n", k, h.Get(k))
	}
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := io.WriteString(qp, strings.ReplaceAll(inv.text(true), "\n", "\r\n")); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// oneLine keeps a header value on one line.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}

// ---- Slack --------------------------------------------------------------------

// Slack delivers invitations to a Slack channel through an incoming
// webhook (POST {"text": …}): the channel the webhook was made for, which
// should be a private one of the people who onboard joiners. The webhook
// URL is a secret (anyone holding it can post): it never appears in an
// error.
type Slack struct {
	url     *url.URL
	hc      *http.Client
	timeout time.Duration
}

// NewSlack checks the webhook URL: https (http only for a loopback test
// server).
func NewSlack(webhook string, hc *http.Client, timeout time.Duration) (*Slack, error) {
	u, err := url.Parse(webhook)
	if err != nil || u.Host == "" || !(u.Scheme == "https" || u.Scheme == "http" && loopback(u.Hostname())) {
		return nil, errors.New("the Slack webhook (slack_webhook_env) is not an https:// URL")
	}
	if hc == nil {
		hc = &http.Client{}
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &Slack{url: u, hc: hc, timeout: timeout}, nil
}

// Describe says where invitations go, without the webhook's secret path.
func (s *Slack) Describe() string { return "Slack incoming webhook on " + s.url.Host }

// Deliver posts the invitation. Slack's answers: 200 "ok"; 400
// invalid_payload and friends (permanent); 403 action_prohibited or
// invalid_token, 404 no_service or channel_not_found, 410
// channel_is_archived (permanent, and auth: the webhook is gone or
// refused); 429 with Retry-After; 5xx transient.
func (s *Slack) Deliver(ctx context.Context, inv Invitation) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	body, _ := json.Marshal(map[string]string{"text": slackEscape(inv.text(false))})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url.String(), bytes.NewReader(body))
	if err != nil {
		return fault.Permanent(fmt.Errorf("slack %s: %v", inv, errors.New("bad request")))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // the URL is the secret
		}
		return fmt.Errorf("slack %s: %w", inv, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	said := redact.Text(string(raw), s.url.Path, 100)
	e := fmt.Errorf("slack %s: %d %s", inv, resp.StatusCode, said)
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return fault.RetryAfter(max(retryafter.Parse(resp.Header.Get("Retry-After"), time.Now(), maxRetryHint), time.Second), e)
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return fault.Auth(fault.Permanent(e))
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return fault.Permanent(e)
	}
	return e
}

// slackEscape escapes what Slack's mrkdwn reads as markup (&, <, >), so a
// name from HR cannot mention @channel or make a link.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
