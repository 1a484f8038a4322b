package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1listers "k8s.io/client-go/listers/core/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
)

const (
	remoteSubmitted = "Remote pod submitted"
	providerFailed  = "ProviderFailed"
	// How long a pod waits for a ConfigMap or Secret it mounts before it fails, as interLink.
	volumeWait = 5 * time.Minute
)

// Provider keeps the pods bound to this virtual node and mirrors them at the plugin.
type Provider struct {
	cfg        *Config
	plugin     *pluginClient
	configMaps corev1listers.ConfigMapLister
	secrets    corev1listers.SecretLister
	nodes      *nodeStatus

	mu        sync.Mutex
	pods      map[string]*corev1.Pod // by namespace/name, with the status shown to Kubernetes
	submitted map[types.UID]bool     // the plugin accepted the pod
	notify    func(*corev1.Pod)
}

// NewProvider makes the provider of one virtual node.
func NewProvider(cfg *Config, pc nodeutil.ProviderConfig, plugin *pluginClient) *Provider {
	return &Provider{
		cfg: cfg, plugin: plugin,
		configMaps: pc.ConfigMaps, secrets: pc.Secrets,
		nodes:     newNodeStatus(pc.Node, plugin, cfg.PingInterval.Duration),
		pods:      map[string]*corev1.Pod{},
		submitted: map[types.UID]bool{},
		notify:    func(*corev1.Pod) {},
	}
}

func key(namespace, name string) string { return namespace + "/" + name }

// NotifyPods registers the pod controller's callback for status changes.
func (p *Provider) NotifyPods(_ context.Context, notify func(*corev1.Pod)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notify = notify
}

// CreatePod shows the pod Pending ("Remote pod submitted") and submits it to the plugin.
func (p *Provider) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	shown := pod.DeepCopy()
	now := metav1.Now()
	shown.Status = corev1.PodStatus{
		Phase:     corev1.PodPending,
		HostIP:    p.cfg.KubeletAddress,
		HostIPs:   []corev1.HostIP{{IP: p.cfg.KubeletAddress}},
		StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: boolStatus(len(pod.Spec.InitContainers) == 0), LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: now},
		},
	}
	for _, c := range pod.Spec.Containers {
		shown.Status.ContainerStatuses = append(shown.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: remoteSubmitted}},
		})
	}
	p.mu.Lock()
	p.pods[key(pod.Namespace, pod.Name)] = shown
	p.mu.Unlock()
	go p.submit(context.WithoutCancel(ctx), pod.DeepCopy())
	return nil
}

// submit sends the pod with what it mounts to the plugin; a refusal fails the pod with
// ProviderFailed and the plugin's message, as interLink 0.6 does.
func (p *Provider) submit(ctx context.Context, pod *corev1.Pod) {
	data, err := p.retrieve(pod)
	deadline := time.Now().Add(volumeWait)
	for err != nil && time.Now().Before(deadline) {
		time.Sleep(2 * time.Second)
		if p.get(pod.Namespace, pod.Name) == nil {
			return
		}
		data, err = p.retrieve(pod)
	}
	if err != nil {
		p.fail(pod, "CFGMaps/Secrets not found", err.Error())
		return
	}
	created, err := p.plugin.create(ctx, data)
	if err != nil {
		log.Printf("pod %s/%s: %v", pod.Namespace, pod.Name, err)
		p.fail(pod, providerFailed, err.Error())
		return
	}
	p.mu.Lock()
	p.submitted[pod.UID] = true
	shown, ok := p.pods[key(pod.Namespace, pod.Name)]
	if !ok || shown.UID != pod.UID || created.PodJID == "" {
		p.mu.Unlock()
		return
	}
	// The pod controller writes the provider's whole pod with each status (UpdateStatus), so
	// the remote job id travels as an annotation of the pod shown, as interLink's does.
	shown = shown.DeepCopy()
	if shown.Annotations == nil {
		shown.Annotations = map[string]string{}
	}
	shown.Annotations["JobID"] = created.PodJID
	p.pods[key(pod.Namespace, pod.Name)] = shown
	notify := p.notify
	p.mu.Unlock()
	notify(shown.DeepCopy())
}

// retrieve gathers the ConfigMaps, Secrets and emptyDirs each container mounts.
func (p *Provider) retrieve(pod *corev1.Pod) (RetrievedPodData, error) {
	data := RetrievedPodData{Pod: *pod}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		entry := RetrievedContainer{Name: c.Name}
		for _, mount := range c.VolumeMounts {
			volume, ok := volumes[mount.Name]
			if !ok {
				continue
			}
			switch {
			case volume.ConfigMap != nil:
				cm, err := p.configMaps.ConfigMaps(pod.Namespace).Get(volume.ConfigMap.Name)
				if err != nil {
					if volume.ConfigMap.Optional != nil && *volume.ConfigMap.Optional {
						continue
					}
					return data, fmt.Errorf("configmap %q: %w", volume.ConfigMap.Name, err)
				}
				entry.ConfigMaps = append(entry.ConfigMaps, *cm)
			case volume.Secret != nil:
				secret, err := p.secrets.Secrets(pod.Namespace).Get(volume.Secret.SecretName)
				if err != nil {
					if volume.Secret.Optional != nil && *volume.Secret.Optional {
						continue
					}
					return data, fmt.Errorf("secret %q: %w", volume.Secret.SecretName, err)
				}
				entry.Secrets = append(entry.Secrets, *secret)
			case volume.EmptyDir != nil:
				entry.EmptyDirs = append(entry.EmptyDirs, volume.Name)
			}
		}
		data.Containers = append(data.Containers, entry)
	}
	return data, nil
}

// fail ends the pod the way interLink's virtual kubelet ends a pod the site refused.
func (p *Provider) fail(pod *corev1.Pod, reason, message string) {
	p.mu.Lock()
	shown, ok := p.pods[key(pod.Namespace, pod.Name)]
	if !ok || shown.UID != pod.UID {
		p.mu.Unlock()
		return
	}
	shown = shown.DeepCopy()
	now := metav1.Now()
	shown.Status.Phase = corev1.PodFailed
	shown.Status.Reason = reason
	shown.Status.Message = message
	for i := range shown.Status.ContainerStatuses {
		shown.Status.ContainerStatuses[i].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, Reason: reason, Message: message, StartedAt: now, FinishedAt: now,
		}}
		shown.Status.ContainerStatuses[i].Ready = false
	}
	setPodReady(shown, false, now)
	p.pods[key(pod.Namespace, pod.Name)] = shown
	notify := p.notify
	p.mu.Unlock()
	notify(shown.DeepCopy())
}

// UpdatePod: a pod's spec does not change once it is bound; nothing to do remotely.
func (p *Provider) UpdatePod(context.Context, *corev1.Pod) error { return nil }

// DeletePod cancels the remote job and shows the pod's containers as terminated.
func (p *Provider) DeletePod(ctx context.Context, pod *corev1.Pod) error {
	p.mu.Lock()
	shown, ok := p.pods[key(pod.Namespace, pod.Name)]
	submitted := p.submitted[pod.UID]
	delete(p.pods, key(pod.Namespace, pod.Name))
	delete(p.submitted, pod.UID)
	notify := p.notify
	p.mu.Unlock()
	if !ok {
		return errdefs.NotFoundf("pod %s/%s is not on this node", pod.Namespace, pod.Name)
	}
	if submitted {
		go func() {
			if err := p.plugin.delete(context.WithoutCancel(ctx), *pod); err != nil {
				log.Printf("pod %s/%s: remote delete: %v", pod.Namespace, pod.Name, err)
			}
		}()
	}
	shown = shown.DeepCopy()
	// interLink's DeletePod writes onto the pod as Kubernetes has it, so the conditions
	// others wrote (DisruptionTarget, from an eviction or the taint manager) stay.
	keepOthersConditions(shown, pod)
	now := metav1.Now()
	if shown.Status.Phase != corev1.PodSucceeded && shown.Status.Phase != corev1.PodFailed {
		shown.Status.Phase = corev1.PodFailed
		shown.Status.Reason = "VKProviderPodDeleted"
		for i, status := range shown.Status.ContainerStatuses {
			if status.State.Terminated == nil {
				shown.Status.ContainerStatuses[i].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: 137, Reason: "VKProviderPodContainerDeleted",
					Message: "VK provider terminated container upon deletion", FinishedAt: now,
				}}
				shown.Status.ContainerStatuses[i].Ready = false
			}
		}
		setPodReady(shown, false, now)
	}
	notify(shown)
	return nil
}

func (p *Provider) get(namespace, name string) *corev1.Pod {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pod, ok := p.pods[key(namespace, name)]; ok {
		return pod.DeepCopy()
	}
	return nil
}

// GetPod returns the pod as shown to Kubernetes.
func (p *Provider) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	if pod := p.get(namespace, name); pod != nil {
		return pod, nil
	}
	return nil, errdefs.NotFoundf("pod %s/%s is not on this node", namespace, name)
}

// GetPodStatus returns the pod's status as shown to Kubernetes.
func (p *Provider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

// GetPods returns every pod on this node.
func (p *Provider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pods := make([]*corev1.Pod, 0, len(p.pods))
	for _, pod := range p.pods {
		pods = append(pods, pod.DeepCopy())
	}
	return pods, nil
}

// GetContainerLogs reads a container's log through the plugin.
func (p *Provider) GetContainerLogs(ctx context.Context, namespace, name, container string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	pod := p.get(namespace, name)
	if pod == nil {
		return nil, errdefs.NotFoundf("pod %s/%s is not on this node", namespace, name)
	}
	text, err := p.plugin.logs(ctx, LogStruct{
		Namespace: namespace, PodUID: string(pod.UID), PodName: name, ContainerName: container,
		Opts: ContainerLogOpts{
			Tail: opts.Tail, LimitBytes: opts.LimitBytes, Timestamps: opts.Timestamps, Follow: opts.Follow,
			Previous: opts.Previous, SinceSeconds: opts.SinceSeconds, SinceTime: opts.SinceTime,
		},
	})
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(text)), nil
}

var unsupported = errdefs.InvalidInput("interLink virtual nodes do not support exec, attach or port-forward (interLink issue 186)")

// RunInContainer is not offered by interLink.
func (p *Provider) RunInContainer(context.Context, string, string, string, []string, api.AttachIO) error {
	return unsupported
}

// AttachToContainer is not offered by interLink.
func (p *Provider) AttachToContainer(context.Context, string, string, string, api.AttachIO) error {
	return unsupported
}

// PortForward is not offered by interLink.
func (p *Provider) PortForward(context.Context, string, string, int32, io.ReadWriteCloser) error {
	return unsupported
}

// GetStatsSummary reports no statistics: the remote batch system keeps them.
func (p *Provider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return &statsv1alpha1.Summary{Node: statsv1alpha1.NodeStats{NodeName: p.cfg.NodeName}}, nil
}

// GetMetricsResource reports no metrics.
func (p *Provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, nil
}

func boolStatus(value bool) corev1.ConditionStatus {
	if value {
		return corev1.ConditionTrue
	}
	return corev1.ConditionFalse
}

// kubeletConditions are the pod conditions this provider writes, as a kubelet does.
var kubeletConditions = map[corev1.PodConditionType]bool{
	corev1.PodInitialized: true, corev1.PodReady: true, corev1.ContainersReady: true,
	"PodReadyToStartContainers": true,
}

// keepOthersConditions copies into shown the conditions of pod (as Kubernetes has it) that
// this provider does not write.
func keepOthersConditions(shown, pod *corev1.Pod) {
	for _, theirs := range pod.Status.Conditions {
		if kubeletConditions[theirs.Type] {
			continue
		}
		replaced := false
		for i := range shown.Status.Conditions {
			if shown.Status.Conditions[i].Type == theirs.Type {
				shown.Status.Conditions[i] = theirs
				replaced = true
			}
		}
		if !replaced {
			shown.Status.Conditions = append(shown.Status.Conditions, theirs)
		}
	}
}

func setPodReady(pod *corev1.Pod, ready bool, now metav1.Time) {
	for i, c := range pod.Status.Conditions {
		if (c.Type == corev1.PodReady || c.Type == corev1.ContainersReady) && c.Status != boolStatus(ready) {
			pod.Status.Conditions[i].Status = boolStatus(ready)
			pod.Status.Conditions[i].LastTransitionTime = now
		}
	}
}
