package consume

import (
	"time"

	"keycard/pkg/connector"
)

// The runtime reads and makes an error's class only here, so moving the
// classes out of pkg/connector into a leaf package changes these lines
// alone.

func isPermanent(err error) bool { return connector.IsPermanent(err) }

func permanent(err error) error { return connector.Permanent(err) }

func retryAfter(err error) (time.Duration, bool) { return connector.RetryAfterHint(err) }
