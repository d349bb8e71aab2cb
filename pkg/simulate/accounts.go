package simulate

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"keycard/pkg/connector"
)

// Lister is a connector's List: every account the app holds.
type Lister func(ctx context.Context, fn func(connector.Account) error) error

// The columns of an accounts CSV (DIR/<app>.csv). id is required; the
// rest may be left out. active is true/false (also yes/no, 1/0; empty is
// true); the membership columns are ;-separated names, one column per kind
// (connector.Kinds: groups, teams, channels, roles).
var accountColumns = []string{"id", "email", "username", "active", "groups", "teams", "channels", "roles"}

// AccountsFile reads one app's accounts from a CSV with accountColumns as
// its header (any order; unknown columns are an error, so a typo does not
// silently drop every membership).
func AccountsFile(path string) ([]connector.Account, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	defer f.Close()
	accts, err := readAccounts(f)
	if err != nil {
		return nil, fmt.Errorf("accounts %s: %w", filepath.Base(path), err)
	}
	return accts, nil
}

// AccountsDir reads DIR/<app>.csv for each app that has one; an app
// without a file is absent from the result (planned against an empty
// app).
func AccountsDir(dir string, apps []string) (map[string][]connector.Account, error) {
	out := map[string][]connector.Account{}
	for _, app := range apps {
		path := filepath.Join(dir, app+".csv")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		accts, err := AccountsFile(path)
		if err != nil {
			return nil, err
		}
		out[app] = accts
	}
	return out, nil
}

func readAccounts(r io.Reader) ([]connector.Account, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header row: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(accountColumns, h) {
			return nil, fmt.Errorf("unknown column %q (want %s)", h, strings.Join(accountColumns, ", "))
		}
		col[h] = i
	}
	if _, ok := col["id"]; !ok {
		return nil, errors.New("no id column")
	}
	var out []connector.Account
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		cell := func(name string) string {
			if i, ok := col[name]; ok && i < len(row) {
				return strings.TrimSpace(row[i])
			}
			return ""
		}
		a := connector.Account{ID: cell("id"), Email: cell("email"), UserName: cell("username"), Active: true}
		if a.ID == "" {
			return nil, fmt.Errorf("line %d: no id", line)
		}
		if v := cell("active"); v != "" {
			if a.Active, err = parseBool(v); err != nil {
				return nil, fmt.Errorf("line %d: active: %w", line, err)
			}
		}
		for i, k := range connector.Kinds {
			if names := splitList(cell(accountColumns[4+i])); len(names) > 0 {
				if a.Memberships == nil {
					a.Memberships = map[connector.Kind][]string{}
				}
				a.Memberships[k] = names
			}
		}
		out = append(out, a)
	}
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "yes", "y":
		return true, nil
	case "no", "n":
		return false, nil
	}
	return strconv.ParseBool(s)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
