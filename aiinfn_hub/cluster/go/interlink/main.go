// Command interlink-vk is an interLink virtual kubelet built on the virtual-kubelet library.
//
// interLink's own module (github.com/interlink-hq/interlink) is not served by the Go module
// proxy this project builds from, so this is the closest real alternative: the upstream
// virtual-kubelet library (node controller, pod controller, lease, kubelet HTTP API) with a
// provider that speaks interLink's plugin API (POST /create, GET /status, POST /delete,
// GET /getLogs) to a plugin, and shows the cluster what interLink's virtual kubelet shows:
// the taint virtual-node.interlink/no-schedule, the virtual-kubelet labels, the
// InterlinkConnectivity condition, the JobID annotation, ProviderFailed pods, and container
// reasons rewritten to "Completed" / "Error: <code>".
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
)

// Config is the virtual kubelet's configuration file, with interLink's key names.
type Config struct {
	InterlinkURL   string            `json:"InterlinkURL"`
	InterlinkPort  string            `json:"InterlinkPort"`
	NodeName       string            `json:"NodeName"`
	Resources      Resources         `json:"Resources"`
	NodeLabels     []string          `json:"NodeLabels"`
	NodeTaints     []Taint           `json:"NodeTaints"`
	KubeletAddress string            `json:"KubeletAddress"`
	KubeletPort    int32             `json:"KubeletPort"`
	KubeletCert    string            `json:"KubeletCert"`
	KubeletKey     string            `json:"KubeletKey"`
	ClientCA       string            `json:"ClientCA"`
	PingInterval   metav1.Duration   `json:"PingInterval"`
	StatusInterval metav1.Duration   `json:"StatusInterval"`
	Annotations    map[string]string `json:"Annotations"`
}

// Resources is the node's capacity, as interLink's configuration states it.
type Resources struct {
	CPU          string        `json:"CPU"`
	Memory       string        `json:"Memory"`
	Pods         string        `json:"Pods"`
	Accelerators []Accelerator `json:"Accelerators"`
}

// Accelerator is a kind of device the remote site offers.
type Accelerator struct {
	ResourceType string `json:"ResourceType"`
	Model        string `json:"Model"`
	Available    int    `json:"Available"`
}

// Taint is an extra node taint from the configuration.
type Taint struct {
	Key    string `json:"Key"`
	Value  string `json:"Value"`
	Effect string `json:"Effect"`
}

func loadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg := &Config{
		Resources:      Resources{CPU: "100", Memory: "3000G", Pods: "10000"},
		PingInterval:   metav1.Duration{Duration: 30 * time.Second},
		StatusInterval: metav1.Duration{Duration: 5 * time.Second},
		KubeletAddress: "127.0.0.1",
	}
	if err := yaml.UnmarshalStrict(data, cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if name := os.Getenv("NODENAME"); name != "" {
		cfg.NodeName = name
	}
	if cfg.NodeName == "" || cfg.InterlinkURL == "" || cfg.KubeletPort == 0 {
		return nil, fmt.Errorf("%s: NodeName, InterlinkURL and KubeletPort are required", path)
	}
	return cfg, nil
}

// nodeTemplate is the Node as interLink's virtual kubelet registers it.
func nodeTemplate(cfg *Config) (corev1.Node, error) {
	labels := map[string]string{
		"type":                        "virtual-kubelet",
		"kubernetes.io/role":          "agent",
		"kubernetes.io/hostname":      cfg.NodeName,
		"kubernetes.io/os":            "virtual-kubelet",
		"virtual-node.interlink/type": "virtual-kubelet",
		"node.kubernetes.io/exclude-from-external-load-balancers": "true",
	}
	for _, pair := range cfg.NodeLabels {
		key, value, ok := cutPair(pair)
		if !ok {
			return corev1.Node{}, fmt.Errorf("NodeLabels: %q is not key=value", pair)
		}
		labels[key] = value
	}
	capacity := corev1.ResourceList{}
	for name, text := range map[corev1.ResourceName]string{
		corev1.ResourceCPU: cfg.Resources.CPU, corev1.ResourceMemory: cfg.Resources.Memory,
		corev1.ResourcePods: cfg.Resources.Pods,
	} {
		quantity, err := resource.ParseQuantity(text)
		if err != nil {
			return corev1.Node{}, fmt.Errorf("Resources.%s: %w", name, err)
		}
		capacity[name] = quantity
	}
	for _, acc := range cfg.Resources.Accelerators {
		capacity[corev1.ResourceName(acc.ResourceType)] = *resource.NewQuantity(int64(acc.Available), resource.DecimalSI)
		if acc.ResourceType == "nvidia.com/gpu" && acc.Model != "" {
			labels["nvidia-gpu-type"] = acc.Model
		}
	}
	taints := []corev1.Taint{{Key: "virtual-node.interlink/no-schedule", Value: "true", Effect: corev1.TaintEffectNoSchedule}}
	for _, t := range cfg.NodeTaints {
		taints = append(taints, corev1.Taint{Key: t.Key, Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
	}
	now := metav1.Now()
	return corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: cfg.NodeName, Labels: labels, Annotations: cfg.Annotations},
		Spec:       corev1.NodeSpec{Taints: taints, ProviderID: "external:///" + cfg.NodeName},
		Status: corev1.NodeStatus{
			Phase:       corev1.NodePending,
			Capacity:    capacity,
			Allocatable: capacity.DeepCopy(),
			Addresses:   []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: cfg.KubeletAddress}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{
				KubeletEndpoint: corev1.DaemonEndpoint{Port: cfg.KubeletPort},
			},
			NodeInfo: corev1.NodeSystemInfo{
				Architecture: "virtual-kubelet", OperatingSystem: "linux",
				KubeletVersion: "v1.36.3-interlink-vk",
			},
			Conditions: []corev1.NodeCondition{
				condition(corev1.NodeReady, corev1.ConditionFalse, "KubeletPending", "waiting for the first interLink ping", now),
				condition(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "", now),
				condition(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "", now),
				condition(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "", now),
				condition(corev1.NodeNetworkUnavailable, corev1.ConditionFalse, "RouteCreated", "", now),
				condition(connectivity, corev1.ConditionFalse, "InterlinkPingPending", "no ping yet", now),
			},
		},
	}, nil
}

func condition(kind corev1.NodeConditionType, status corev1.ConditionStatus, reason, message string, now metav1.Time) corev1.NodeCondition {
	return corev1.NodeCondition{Type: kind, Status: status, Reason: reason, Message: message, LastHeartbeatTime: now, LastTransitionTime: now}
}

func cutPair(pair string) (string, string, bool) {
	for i := 0; i < len(pair); i++ {
		if pair[i] == '=' {
			return pair[:i], pair[i+1:], i > 0
		}
	}
	return "", "", false
}

func tlsConfig(cfg *Config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.KubeletCert, cfg.KubeletKey)
	if err != nil {
		return nil, fmt.Errorf("kubelet serving certificate: %w", err)
	}
	result := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.ClientCA != "" {
		pem, err := os.ReadFile(cfg.ClientCA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no certificate", cfg.ClientCA)
		}
		result.ClientCAs = pool
		result.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return result, nil
}

func main() {
	configPath := flag.String("config", os.Getenv("CONFIGPATH"), "the virtual kubelet's configuration file (YAML or JSON)")
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the API server")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	if err := run(*configPath, *kubeconfig); err != nil {
		log.Fatalf("interlink-vk: %v", err)
	}
}

func run(configPath, kubeconfig string) error {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return err
	}
	restConfig, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	restConfig.UserAgent = "interlink-vk/" + cfg.NodeName
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return err
	}
	template, err := nodeTemplate(cfg)
	if err != nil {
		return err
	}
	serving, err := tlsConfig(cfg)
	if err != nil {
		return err
	}
	plugin := newPluginClient(cfg.InterlinkURL, cfg.InterlinkPort)
	mux := http.NewServeMux()
	var provider *Provider
	newProvider := func(pc nodeutil.ProviderConfig) (nodeutil.Provider, node.NodeProvider, error) {
		provider = NewProvider(cfg, pc, plugin)
		return provider, provider.nodes, nil
	}
	vk, err := nodeutil.NewNode(cfg.NodeName, newProvider,
		nodeutil.WithClient(client),
		nodeutil.AttachProviderRoutes(mux),
		func(c *nodeutil.NodeConfig) error {
			c.NodeSpec = template
			c.HTTPListenAddr = net.JoinHostPort(cfg.KubeletAddress, strconv.Itoa(int(cfg.KubeletPort)))
			c.TLSConfig = serving
			c.Handler = mux
			c.NumWorkers = 4
			c.InformerResyncPeriod = 10 * time.Minute
			return nil
		},
	)
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	go provider.statusLoop(ctx)
	go provider.nodes.pingLoop(ctx)
	log.Printf("virtual kubelet %s: plugin %s, kubelet API on %s:%d", cfg.NodeName, plugin.base, cfg.KubeletAddress, cfg.KubeletPort)
	return vk.Run(ctx)
}
