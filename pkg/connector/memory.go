package connector

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"keycard/pkg/fault"
)

// Memory is an application held in memory. It backs dry-run mode for apps
// without credentials (so successive plans converge as if applied) and
// stands in for an app in the worker's tests, with injectable failures.
type Memory struct {
	mu         sync.Mutex
	accounts   map[string]*Account // by ID
	byExternal map[string]*Account
	byEmail    map[string]*Account
	next       int
	fail       []error // returned, in order, by the next writes
	writes     int
}

// NewMemory returns an empty app.
func NewMemory() *Memory {
	return &Memory{accounts: map[string]*Account{}, byExternal: map[string]*Account{}, byEmail: map[string]*Account{}}
}

// FailNext makes the next len(errs) writes fail with errs, in order.
func (m *Memory) FailNext(errs ...error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = append(m.fail, errs...)
}

// Writes counts successful writes.
func (m *Memory) Writes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

// Accounts returns copies of every account, by ID order.
func (m *Memory) Accounts() []Account {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Account, 0, len(m.accounts))
	for _, a := range m.accounts {
		out = append(out, clone(*a))
	}
	slices.SortFunc(out, func(a, b Account) int { return cmpID(a.ID, b.ID) })
	return out
}

// Count implements Counter.
func (m *Memory) Count(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.accounts), nil
}

func cmpID(a, b string) int {
	x, _ := strconv.Atoi(a)
	y, _ := strconv.Atoi(b)
	return x - y
}

func (m *Memory) Find(_ context.Context, p Person) (*Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.find(p); a != nil {
		c := clone(*a)
		return &c, nil
	}
	return nil, nil
}

// find looks the person up by account id, then external id, then email,
// through indexes: the single binary runs every dry-run app on a Memory, so
// a lookup must not grow with the number of accounts.
func (m *Memory) find(p Person) *Account {
	if a, ok := m.accounts[p.AccountID]; ok && p.AccountID != "" {
		return a
	}
	if a, ok := m.byExternal[p.EmployeeID]; ok && p.EmployeeID != "" {
		return a
	}
	if a, ok := m.byEmail[p.Email]; ok && p.Email != "" {
		return a
	}
	return nil
}

// unindex drops a's external id and email before they change: an old
// address (or id) may be someone else's later and must not lead to a.
func (m *Memory) unindex(a *Account) {
	if m.byExternal[a.ExternalID] == a {
		delete(m.byExternal, a.ExternalID)
	}
	if m.byEmail[a.Email] == a {
		delete(m.byEmail, a.Email)
	}
}

// index records a's current external id and email.
func (m *Memory) index(a *Account) {
	if a.ExternalID != "" {
		m.byExternal[a.ExternalID] = a
	}
	if a.Email != "" {
		m.byEmail[a.Email] = a
	}
}

// write runs fn under the lock unless a failure is queued.
func (m *Memory) write(fn func() error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.fail) > 0 {
		err := m.fail[0]
		m.fail = m.fail[1:]
		return err
	}
	if err := fn(); err != nil {
		return err
	}
	m.writes++
	return nil
}

func (m *Memory) Create(_ context.Context, p Person) (Account, error) {
	var out Account
	err := m.write(func() error {
		a := m.find(p)
		if a == nil { // adopt an existing account rather than make a twin
			m.next++
			a = &Account{ID: strconv.Itoa(m.next), Active: true, Memberships: map[Kind][]string{}}
			m.accounts[a.ID] = a
		}
		m.unindex(a)
		a.ExternalID, a.Email, a.UserName, a.Attributes = p.EmployeeID, p.Email, p.UserName, p.Attributes()
		m.index(a)
		out = clone(*a)
		return nil
	})
	return out, err
}

func (m *Memory) get(a Account) (*Account, error) {
	stored, ok := m.accounts[a.ID]
	if !ok {
		return nil, fault.Permanent(fmt.Errorf("account %s does not exist", a.ID))
	}
	return stored, nil
}

func (m *Memory) Update(_ context.Context, a Account, p Person) error {
	return m.write(func() error {
		stored, err := m.get(a)
		if err == nil {
			m.unindex(stored)
			stored.Email, stored.UserName, stored.Attributes = p.Email, p.UserName, p.Attributes()
			m.index(stored)
		}
		return err
	})
}

func (m *Memory) SetActive(_ context.Context, a Account, active bool) error {
	return m.write(func() error {
		stored, err := m.get(a)
		if err == nil {
			stored.Active = active
		}
		return err
	})
}

func (m *Memory) AddMembership(_ context.Context, a Account, k Kind, name string) error {
	return m.write(func() error {
		stored, err := m.get(a)
		if err == nil && !slices.Contains(stored.Memberships[k], name) {
			stored.Memberships[k] = append(stored.Memberships[k], name)
		}
		return err
	})
}

func (m *Memory) RemoveMembership(_ context.Context, a Account, k Kind, name string) error {
	return m.write(func() error {
		stored, err := m.get(a)
		if err == nil {
			stored.Memberships[k] = slices.DeleteFunc(stored.Memberships[k], func(n string) bool { return n == name })
		}
		return err
	})
}

func (m *Memory) List(_ context.Context, fn func(Account) error) error {
	for _, a := range m.Accounts() {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

func clone(a Account) Account {
	a.Attributes = maps.Clone(a.Attributes)
	ms := make(map[Kind][]string, len(a.Memberships))
	for k, v := range a.Memberships {
		ms[k] = slices.Clone(v)
	}
	a.Memberships = ms
	return a
}
