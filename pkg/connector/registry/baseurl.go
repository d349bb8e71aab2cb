package registry

import (
	"fmt"
	"net"
	"net/url"
)

// CheckBaseURL returns what is wrong with an app's base_url setting, or "":
// an absolute https URL without credentials, query or fragment (http only
// for a loopback host, as the test servers are).
func CheckBaseURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err.Error()
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Sprintf("%q: want an https:// URL", raw)
	case u.Host == "":
		return "want an absolute URL with a host"
	case u.User != nil:
		return "must not carry credentials; name the variable that holds them with token_env"
	case u.RawQuery != "" || u.Fragment != "":
		return "must not have a query or fragment"
	case u.Scheme == "https", IsLoopback(u.Hostname()):
		return ""
	}
	return "must use https (http only for localhost)"
}

// IsLoopback reports whether host is this machine: "localhost" or a
// loopback address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
