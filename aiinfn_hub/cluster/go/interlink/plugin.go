package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The wire types of interLink's plugin API (docs/openapi/plugin-openapi.json in interLink's
// repository), with interLink's JSON field names.

// RetrievedContainer is a container with the ConfigMaps, Secrets and emptyDirs it mounts.
type RetrievedContainer struct {
	Name       string             `json:"name"`
	ConfigMaps []corev1.ConfigMap `json:"configMaps"`
	Secrets    []corev1.Secret    `json:"secrets"`
	EmptyDirs  []string           `json:"emptyDirs"`
}

// RetrievedPodData is the body of POST /create.
type RetrievedPodData struct {
	Pod        corev1.Pod           `json:"pod"`
	Containers []RetrievedContainer `json:"container"`
}

// CreateStruct is the answer to POST /create: the remote job id of the pod.
type CreateStruct struct {
	PodUID string `json:"PodUID"`
	PodJID string `json:"PodJID"`
}

// PodStatus is one pod's entry in the answer to GET /status.
type PodStatus struct {
	PodName        string                   `json:"name"`
	PodUID         string                   `json:"UID"`
	PodNamespace   string                   `json:"namespace"`
	JobID          string                   `json:"JID"`
	Containers     []corev1.ContainerStatus `json:"containers"`
	InitContainers []corev1.ContainerStatus `json:"initContainers"`
}

// ContainerLogOpts are the log options of GET /getLogs.
type ContainerLogOpts struct {
	Tail         int       `json:"Tail"`
	LimitBytes   int       `json:"Bytes"`
	Timestamps   bool      `json:"Timestamps"`
	Follow       bool      `json:"Follow"`
	Previous     bool      `json:"Previous"`
	SinceSeconds int       `json:"SinceSeconds"`
	SinceTime    time.Time `json:"SinceTime"`
}

// LogStruct is the body of GET /getLogs.
type LogStruct struct {
	Namespace     string           `json:"Namespace"`
	PodUID        string           `json:"PodUID"`
	PodName       string           `json:"PodName"`
	ContainerName string           `json:"ContainerName"`
	Opts          ContainerLogOpts `json:"Opts"`
}

// pluginClient calls the plugin over HTTP.
type pluginClient struct {
	base string
	http *http.Client
}

func newPluginClient(url, port string) *pluginClient {
	base := strings.TrimRight(url, "/")
	if port != "" {
		base += ":" + port
	}
	return &pluginClient{base: base, http: &http.Client{Timeout: 30 * time.Second}}
}

// PluginError is a refusal or failure answered by the plugin, or no answer at all.
type PluginError struct {
	Status  int
	Message string
}

func (e *PluginError) Error() string {
	if e.Status == 0 {
		return "the interLink plugin cannot be reached: " + e.Message
	}
	return fmt.Sprintf("the interLink plugin answered %d: %s", e.Status, e.Message)
}

func (c *pluginClient) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	request, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	request.Header.Set("Content-Type", "application/json")
	response, err := c.http.Do(request)
	if err != nil {
		return nil, &PluginError{Message: err.Error()}
	}
	defer response.Body.Close()
	answer, err := io.ReadAll(response.Body)
	if err != nil {
		return nil, &PluginError{Message: err.Error()}
	}
	if response.StatusCode != http.StatusOK {
		return nil, &PluginError{Status: response.StatusCode, Message: strings.TrimSpace(string(answer))}
	}
	return answer, nil
}

func (c *pluginClient) create(ctx context.Context, data RetrievedPodData) (CreateStruct, error) {
	var created CreateStruct
	answer, err := c.do(ctx, http.MethodPost, "/create", data)
	if err != nil {
		return created, err
	}
	if err := json.Unmarshal(answer, &created); err != nil {
		return created, &PluginError{Status: 200, Message: "an answer that is not a CreateStruct: " + err.Error()}
	}
	return created, nil
}

// status asks for the state of pods; an empty list is interLink's connectivity ping.
func (c *pluginClient) status(ctx context.Context, pods []corev1.Pod) ([]PodStatus, error) {
	var statuses []PodStatus
	answer, err := c.do(ctx, http.MethodGet, "/status", pods)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(answer, &statuses); err != nil {
		return nil, &PluginError{Status: 200, Message: "an answer that is not a list of PodStatus: " + err.Error()}
	}
	return statuses, nil
}

func (c *pluginClient) delete(ctx context.Context, pod corev1.Pod) error {
	_, err := c.do(ctx, http.MethodPost, "/delete", pod)
	return err
}

func (c *pluginClient) logs(ctx context.Context, request LogStruct) ([]byte, error) {
	return c.do(ctx, http.MethodGet, "/getLogs", request)
}
