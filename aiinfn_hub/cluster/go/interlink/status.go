package main

import (
	"context"
	"fmt"
	"log"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// statusLoop asks the plugin for the state of every submitted pod that has not ended, as
// interLink's virtual kubelet does every few seconds, and shows each change to Kubernetes.
func (p *Provider) statusLoop(ctx context.Context) {
	ticker := time.NewTicker(p.cfg.StatusInterval.Duration)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		pods := p.pending()
		if len(pods) == 0 {
			continue
		}
		statuses, err := p.plugin.status(ctx, pods)
		if err != nil {
			log.Printf("status of %d pods: %v", len(pods), err)
			continue
		}
		for _, status := range statuses {
			p.apply(status)
		}
	}
}

// pending lists the pods the plugin accepted that have not reached a terminal phase.
func (p *Provider) pending() []corev1.Pod {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pods []corev1.Pod
	for _, pod := range p.pods {
		if p.submitted[pod.UID] && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			pods = append(pods, *pod.DeepCopy())
		}
	}
	return pods
}

// apply maps the plugin's container states onto the pod, as interLink does: a running
// container makes the pod Running and Ready; when every container has terminated the pod
// Succeeded if each exited 0, else Failed; terminated reasons become "Completed" or
// "Error: <code>", and so does the pod's reason.
func (p *Provider) apply(status PodStatus) {
	p.mu.Lock()
	shown, ok := p.pods[key(status.PodNamespace, status.PodName)]
	if !ok || string(shown.UID) != status.PodUID {
		p.mu.Unlock()
		return
	}
	updated := shown.DeepCopy()
	reported := map[string]corev1.ContainerStatus{}
	for _, c := range status.Containers {
		reported[c.Name] = c
	}
	running, terminated, failedCode := 0, 0, int32(0)
	for i, current := range updated.Status.ContainerStatuses {
		remote, ok := reported[current.Name]
		if !ok {
			continue
		}
		next := current
		next.RestartCount = remote.RestartCount
		switch {
		case remote.State.Terminated != nil:
			t := remote.State.Terminated.DeepCopy()
			t.Reason = "Completed"
			if t.ExitCode != 0 {
				t.Reason = fmt.Sprintf("Error: %d", t.ExitCode)
				if failedCode == 0 {
					failedCode = t.ExitCode
				}
			}
			next.State = corev1.ContainerState{Terminated: t}
			next.Ready = false
			terminated++
		case remote.State.Running != nil:
			next.State = corev1.ContainerState{Running: remote.State.Running.DeepCopy()}
			next.Ready = true
			started := true
			next.Started = &started
			running++
		case remote.State.Waiting != nil:
			next.State = corev1.ContainerState{Waiting: remote.State.Waiting.DeepCopy()}
			next.Ready = false
		}
		updated.Status.ContainerStatuses[i] = next
	}
	now := metav1.Now()
	total := len(updated.Status.ContainerStatuses)
	switch {
	case total > 0 && terminated == total:
		updated.Status.Phase = corev1.PodSucceeded
		updated.Status.Reason = "Completed"
		if failedCode != 0 {
			updated.Status.Phase = corev1.PodFailed
			updated.Status.Reason = fmt.Sprintf("Error: %d", failedCode)
		}
		setPodReady(updated, false, now)
	case running > 0:
		updated.Status.Phase = corev1.PodRunning
		setPodReady(updated, running == total, now)
	default:
		updated.Status.Phase = corev1.PodPending
	}
	if reflect.DeepEqual(updated.Status, shown.Status) {
		p.mu.Unlock()
		return
	}
	p.pods[key(status.PodNamespace, status.PodName)] = updated
	notify := p.notify
	p.mu.Unlock()
	notify(updated.DeepCopy())
}
