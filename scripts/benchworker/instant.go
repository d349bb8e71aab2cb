package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"keycard/pkg/connector"
)

// instant is an in-memory app whose every call is O(1): connector.Memory
// with indexes. Memory scans (and sorts) every account on each lookup of an
// unknown person, so with thousands of accounts it, not the worker,
// becomes the bottleneck; -app instant measures the worker without that.
type instant struct {
	mu      sync.Mutex
	byID    map[string]*connector.Account
	byExtID map[string]*connector.Account
	byEmail map[string]*connector.Account
	next    int
	writes  int
}

var _ connector.Connector = (*instant)(nil)

func newInstant() *instant {
	return &instant{byID: map[string]*connector.Account{}, byExtID: map[string]*connector.Account{}, byEmail: map[string]*connector.Account{}}
}

func (m *instant) find(p connector.Person) *connector.Account {
	if a, ok := m.byID[p.AccountID]; ok && p.AccountID != "" {
		return a
	}
	if a, ok := m.byExtID[p.EmployeeID]; ok && p.EmployeeID != "" {
		return a
	}
	if a, ok := m.byEmail[p.Email]; ok && p.Email != "" {
		return a
	}
	return nil
}

func (m *instant) Find(_ context.Context, p connector.Person) (*connector.Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.find(p); a != nil {
		c := clone(*a)
		return &c, nil
	}
	return nil, nil
}

func (m *instant) Create(_ context.Context, p connector.Person) (connector.Account, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.find(p)
	if a == nil {
		m.next++
		a = &connector.Account{ID: strconv.Itoa(m.next), Active: true, Memberships: map[connector.Kind][]string{}}
		m.byID[a.ID] = a
	}
	if a.ExternalID != "" {
		delete(m.byExtID, a.ExternalID)
	}
	if a.Email != "" {
		delete(m.byEmail, a.Email)
	}
	a.ExternalID, a.Email, a.UserName, a.Attributes = p.EmployeeID, p.Email, p.UserName, p.Attributes()
	if a.ExternalID != "" {
		m.byExtID[a.ExternalID] = a
	}
	if a.Email != "" {
		m.byEmail[a.Email] = a
	}
	m.writes++
	return clone(*a), nil
}

// write runs fn on the stored account under the lock.
func (m *instant) write(a connector.Account, fn func(*connector.Account)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	stored, ok := m.byID[a.ID]
	if !ok {
		return connector.Permanent(fmt.Errorf("account %s does not exist", a.ID))
	}
	fn(stored)
	m.writes++
	return nil
}

func (m *instant) Update(_ context.Context, a connector.Account, p connector.Person) error {
	return m.write(a, func(s *connector.Account) {
		if s.Email != "" {
			delete(m.byEmail, s.Email)
		}
		s.Email, s.UserName, s.Attributes = p.Email, p.UserName, p.Attributes()
		if s.Email != "" {
			m.byEmail[s.Email] = s
		}
	})
}

func (m *instant) SetActive(_ context.Context, a connector.Account, active bool) error {
	return m.write(a, func(s *connector.Account) { s.Active = active })
}

func (m *instant) AddMembership(_ context.Context, a connector.Account, k connector.Kind, name string) error {
	return m.write(a, func(s *connector.Account) {
		if !slices.Contains(s.Memberships[k], name) {
			s.Memberships[k] = append(s.Memberships[k], name)
		}
	})
}

func (m *instant) RemoveMembership(_ context.Context, a connector.Account, k connector.Kind, name string) error {
	return m.write(a, func(s *connector.Account) {
		s.Memberships[k] = slices.DeleteFunc(s.Memberships[k], func(n string) bool { return n == name })
	})
}

func (m *instant) List(_ context.Context, fn func(connector.Account) error) error {
	m.mu.Lock()
	all := make([]connector.Account, 0, len(m.byID))
	for _, a := range m.byID {
		all = append(all, clone(*a))
	}
	m.mu.Unlock()
	for _, a := range all {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

// counts returns how many accounts the app holds and how many writes it took.
func (m *instant) counts() (int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byID), m.writes
}

func clone(a connector.Account) connector.Account {
	a.Attributes = maps.Clone(a.Attributes)
	ms := make(map[connector.Kind][]string, len(a.Memberships))
	for k, v := range a.Memberships {
		ms[k] = slices.Clone(v)
	}
	a.Memberships = ms
	return a
}
