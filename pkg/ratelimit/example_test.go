package ratelimit_test

import (
	"context"
	"fmt"

	"keycard/pkg/ratelimit"
)

func ExampleNewLocal() {
	// Okta documents 600 user writes a minute; pace a little below it.
	lim := ratelimit.NewLocal(map[string]ratelimit.Limit{
		"okta": {PerMinute: 540, Burst: 5},
	})
	ctx := context.Background()
	for range 3 {
		if err := lim.Wait(ctx, "okta"); err != nil {
			fmt.Println(err) // ctx ended
			return
		}
		// ... one write to Okta ...
	}
	fmt.Println("3 writes paced")
	// Output: 3 writes paced
}
