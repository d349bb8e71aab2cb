package natstest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is a JetStream cluster of nats-servers embedded in the test
// process, each on its own random client and route ports and its own
// store, so a test can stop a node (the stream leader, say) and start it
// again on the same ports and data.
type Cluster struct {
	Nodes []*Node
}

// Node is one server of a Cluster.
type Node struct {
	Name string
	URL  string // nats://127.0.0.1:PORT
	opts server.Options
	ns   *server.Server
}

// StartCluster starts n servers routed to each other and waits until
// JetStream has a meta leader; they are shut down when the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	ports := make([]int, 2*n)
	for i := range ports {
		ports[i] = freePort(t)
	}
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[n+i]))
	}
	c := &Cluster{}
	for i := range n {
		node := &Node{Name: fmt.Sprintf("n%d", i+1), URL: fmt.Sprintf("nats://127.0.0.1:%d", ports[i])}
		node.opts = server.Options{
			ServerName: node.Name, Host: "127.0.0.1", Port: ports[i], NoSigs: true,
			JetStream: true, StoreDir: t.TempDir(),
			Cluster: server.ClusterOpts{Name: "keycard-test", Host: "127.0.0.1", Port: ports[n+i]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
		}
		c.Nodes = append(c.Nodes, node)
	}
	for _, node := range c.Nodes {
		node.start(t)
	}
	t.Cleanup(func() {
		for _, node := range c.Nodes {
			node.Stop()
		}
	})
	c.waitForLeader(t)
	return c
}

// URLs is every node's client URL, comma-separated, as NATS_URL takes it.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		urls[i] = n.URL
	}
	return strings.Join(urls, ",")
}

// Node returns the node named name (a stream's Cluster.Leader).
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Connect returns a JetStream client on every node that reconnects
// forever, closed when the test ends.
func (c *Cluster) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func (c *Cluster) waitForLeader(t testing.TB) {
	t.Helper()
	_, js := c.Connect(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster elected no JetStream leader within 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *Node) start(t testing.TB) {
	t.Helper()
	opts := n.opts // the server keeps and changes its copy
	ns, err := server.NewServer(&opts)
	if err != nil {
		t.Fatalf("node %s: %v", n.Name, err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		t.Fatalf("node %s did not start", n.Name)
	}
	n.ns = ns
}

// Stop shuts the node down (idempotent): the others elect new leaders.
func (n *Node) Stop() {
	if n.ns == nil {
		return
	}
	n.ns.Shutdown()
	n.ns.WaitForShutdown()
	n.ns = nil
}

// Restart starts a stopped node again on its ports and store; it catches
// up from the others.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	n.Stop()
	n.start(t)
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
