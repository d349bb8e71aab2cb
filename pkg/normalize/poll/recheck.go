package poll

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"keycard/pkg/bamboohr"
	"keycard/pkg/event"
	"keycard/pkg/streams"
)

// Subjects and Keycard-Kind values of recheck messages.
const (
	SubjectPoll  = "hr.inbox.poller"
	SubjectSweep = "hr.inbox.sweep"
	KindPoll     = "poll"
	KindSweep    = "sweep"
)

// Actions of the legacy field-based payload.
const (
	actionCreated = "Created"
	actionUpdated = "Updated"
	actionDeleted = "Deleted"
)

type recheckBody struct {
	Employees []recheckEmployee `json:"employees"`
}

type recheckEmployee struct {
	ID        string `json:"id"`
	Action    string `json:"action"`
	Timestamp string `json:"timestamp"`
}

// pollRecheck is the recheck for one entry of employees/changed.
func pollRecheck(c bamboohr.Change) *nats.Msg {
	id := "poller:" + event.EmployeeKey(c.ID) + ":" + strconv.FormatInt(c.LastChanged.Unix(), 10)
	return recheck(SubjectPoll, KindPoll, id, c.ID, fieldAction(c.Action), c.LastChanged)
}

// sweepRecheck is the recheck for one employee of a sweep started at start.
func sweepRecheck(employeeID string, start time.Time) *nats.Msg {
	id := "sweep:" + strconv.FormatInt(start.Unix(), 10) + ":" + event.EmployeeKey(employeeID)
	return recheck(SubjectSweep, KindSweep, id, employeeID, actionUpdated, start)
}

// fieldAction maps changed-since actions to the field-based payload's. An
// action BambooHR may add later is still "look at this person again".
func fieldAction(a bamboohr.Action) string {
	switch a {
	case bamboohr.ActionInserted:
		return actionCreated
	case bamboohr.ActionDeleted:
		return actionDeleted
	default:
		return actionUpdated
	}
}

func recheck(subject, kind, msgID, employeeID, action string, at time.Time) *nats.Msg {
	body, _ := json.Marshal(recheckBody{Employees: []recheckEmployee{{ // strings only: cannot fail
		ID: employeeID, Action: action, Timestamp: at.UTC().Format(time.RFC3339),
	}}})
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	msg.Header.Set(event.HeaderEventID, msgID)
	msg.Header.Set(event.HeaderKind, kind)
	msg.Header.Set(event.HeaderOccurredAt, at.UTC().Format(time.RFC3339Nano))
	return msg
}

// publish stores msg in HR_INBOX and reports whether it was a duplicate.
// It returns only once JetStream acknowledged, or with an error.
func (p *Poller) publish(ctx context.Context, msg *nats.Msg) (duplicate bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.PublishTimeout)
	defer cancel()
	ack, err := p.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(streams.Inbox))
	if err == nil && ack == nil {
		err = errors.New("no PubAck")
	}
	if err != nil {
		return false, fmt.Errorf("publish %s to %s: %w", msg.Header.Get(jetstream.MsgIDHeader), streams.Inbox, err)
	}
	return ack.Duplicate, nil
}
