package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const connectivity corev1.NodeConditionType = "InterlinkConnectivity"

// nodeStatus is the node provider: it pings the plugin and shows the outcome in the node's
// Ready and InterlinkConnectivity conditions, as interLink's virtual kubelet does.
type nodeStatus struct {
	plugin   *pluginClient
	interval time.Duration

	mu     sync.Mutex
	node   *corev1.Node
	notify func(*corev1.Node)
	last   string // the outcome of the last ping, to report changes only
}

func newNodeStatus(node *corev1.Node, plugin *pluginClient, interval time.Duration) *nodeStatus {
	return &nodeStatus{plugin: plugin, interval: interval, node: node.DeepCopy(), notify: func(*corev1.Node) {}}
}

// Ping says the virtual kubelet itself is alive (it renews the node's Lease); whether the
// remote site answers is the InterlinkConnectivity condition, not a failed heartbeat.
func (n *nodeStatus) Ping(context.Context) error { return nil }

// NotifyNodeStatus registers the node controller's callback.
func (n *nodeStatus) NotifyNodeStatus(_ context.Context, notify func(*corev1.Node)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notify = notify
	n.last = "" // report the next ping, whatever it says: earlier ones went nowhere
}

func (n *nodeStatus) pingLoop(ctx context.Context) {
	for {
		n.ping(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(n.interval):
		}
	}
}

// ping sends interLink's connectivity ping (a status request for no pods) and records it.
func (n *nodeStatus) ping(ctx context.Context) {
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := n.plugin.status(pingCtx, []corev1.Pod{})
	ready, reason, message := corev1.ConditionTrue, "InterlinkPingSuccessful", "interLink answered the ping"
	if err != nil {
		ready, reason = corev1.ConditionFalse, "InterlinkPingFailed"
		var pluginErr *PluginError
		code := 0
		if errors.As(err, &pluginErr) {
			code = pluginErr.Status
		}
		message = fmt.Sprintf("ping failed (HTTP %d): %v", code, err)
	}
	n.mu.Lock()
	outcome := string(ready) + reason + message
	if outcome == n.last {
		n.mu.Unlock()
		return
	}
	n.last = outcome
	now := metav1.Now()
	node := n.node.DeepCopy()
	for i, c := range node.Status.Conditions {
		switch c.Type {
		case corev1.NodeReady:
			c.Status, c.Reason, c.Message = ready, "KubeletReady", "the interLink plugin answers"
			if ready != corev1.ConditionTrue {
				c.Reason, c.Message = "KubeletNotReady", message
			}
		case connectivity:
			c.Status, c.Reason, c.Message = ready, reason, message
		default:
			continue
		}
		if node.Status.Conditions[i].Status != c.Status {
			c.LastTransitionTime = now
		}
		c.LastHeartbeatTime = now
		node.Status.Conditions[i] = c
	}
	if ready == corev1.ConditionTrue {
		node.Status.Phase = corev1.NodeRunning
	}
	n.node = node
	notify := n.notify
	n.mu.Unlock()
	notify(node.DeepCopy())
}
