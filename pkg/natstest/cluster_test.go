package natstest

import (
	"context"
	"testing"
	"time"

	"keycard/pkg/streams"
)

// Keycard's streams at three replicas survive their leader's loss: a new
// leader takes writes, and the stopped node catches up when it returns.
func TestClusterStreamsSurviveLeaderLoss(t *testing.T) {
	c := StartCluster(t, 3)
	_, js := c.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := streams.Ensure(ctx, js, streams.Options{Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "hr.employee.hired.1", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	str, err := js.Stream(ctx, streams.Events)
	if err != nil {
		t.Fatal(err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("HR_EVENTS: %d replicas, cluster %+v", info.Config.Replicas, info.Cluster)
	}
	leader := c.Node(info.Cluster.Leader)
	leader.Stop()
	start := time.Now()
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		_, err := js.Publish(pctx, "hr.employee.hired.2", []byte("{}"))
		pcancel()
		if err == nil {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("no write accepted 20s after the leader %s stopped: %v", leader.Name, err)
		}
	}
	t.Logf("writes accepted again %v after the leader stopped", time.Since(start).Round(time.Millisecond))
	leader.Restart(t)
	for {
		info, err = str.Info(ctx)
		if err == nil && info.State.Msgs == 2 && len(info.Cluster.Replicas) == 2 && info.Cluster.Replicas[0].Current && info.Cluster.Replicas[1].Current {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the restarted node did not catch up: %+v %v", info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
