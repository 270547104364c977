package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/ledgersync/ledgersync/pkg/config"
	"github.com/ledgersync/ledgersync/pkg/logging"
	"github.com/ledgersync/ledgersync/streams"
)

// No cluster, kubectl or helm runs here: the overlays are rendered with
// kustomize's own library (what `kustomize build` and `kubectl apply -k`
// run) and the output is checked against the binary: its targets, the
// variables its config structs read, its probes and shutdown timeout, and
// the NATS topology of streams.Default.

const (
	k8sDir = "../../deploy/k8s"
	// externalSecret is the Secret the production overlay expects to exist.
	externalSecret = "ledgersync-secrets"
)

// Variables the Go runtime reads, not syncd's config structs.
var goRuntimeVariables = map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GOGC": true, "GODEBUG": true}

type k8sMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

type keyRef struct {
	Name     string `yaml:"name"`
	Key      string `yaml:"key"`
	Optional bool   `yaml:"optional"`
}

type envVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		ConfigMapKeyRef  *keyRef `yaml:"configMapKeyRef"`
		SecretKeyRef     *keyRef `yaml:"secretKeyRef"`
		ResourceFieldRef *struct {
			Resource string `yaml:"resource"`
		} `yaml:"resourceFieldRef"`
	} `yaml:"valueFrom"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env     []envVar `yaml:"env"`
	EnvFrom []struct {
		ConfigMapRef *keyRef `yaml:"configMapRef"`
		SecretRef    *keyRef `yaml:"secretRef"`
	} `yaml:"envFrom"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Lifecycle      *struct {
		PreStop *struct {
			Sleep *struct {
				Seconds int64 `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
}

type podTemplate struct {
	Metadata k8sMeta `yaml:"metadata"`
	Spec     struct {
		TerminationGracePeriodSeconds *int64 `yaml:"terminationGracePeriodSeconds"`
		AutomountServiceAccountToken  *bool  `yaml:"automountServiceAccountToken"`
		SecurityContext               struct {
			RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		} `yaml:"securityContext"`
		Containers []container `yaml:"containers"`
	} `yaml:"spec"`
}

type workload struct {
	Kind     string  `yaml:"kind"`
	Metadata k8sMeta `yaml:"metadata"`
	Spec     struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template podTemplate `yaml:"template"`
	} `yaml:"spec"`
}

type labelSelector struct {
	MatchLabels      map[string]string `yaml:"matchLabels"`
	MatchExpressions []struct {
		Key      string   `yaml:"key"`
		Operator string   `yaml:"operator"`
		Values   []string `yaml:"values"`
	} `yaml:"matchExpressions"`
}

// matches reports whether the selector selects labels (In, NotIn, Exists,
// DoesNotExist as Kubernetes defines them). A nil selector selects nothing.
func (s *labelSelector) matches(labels map[string]string) bool {
	if s == nil {
		return false
	}
	for k, v := range s.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	for _, e := range s.MatchExpressions {
		v, ok := labels[e.Key]
		in := false
		for _, x := range e.Values {
			in = in || (ok && v == x)
		}
		switch e.Operator {
		case "In":
			if !in {
				return false
			}
		case "NotIn":
			if in {
				return false
			}
		case "Exists":
			if !ok {
				return false
			}
		case "DoesNotExist":
			if ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

type netPeer struct {
	PodSelector       *labelSelector `yaml:"podSelector"`
	NamespaceSelector *labelSelector `yaml:"namespaceSelector"`
	IPBlock           *struct {
		CIDR   string   `yaml:"cidr"`
		Except []string `yaml:"except"`
	} `yaml:"ipBlock"`
}

type netRule struct {
	Peers []netPeer `yaml:"-"`
	Ports []struct {
		Protocol string `yaml:"protocol"`
		Port     int    `yaml:"port"`
	} `yaml:"ports"`
	To   []netPeer `yaml:"to"`
	From []netPeer `yaml:"from"`
}

type networkPolicy struct {
	Metadata k8sMeta `yaml:"metadata"`
	Spec     struct {
		PodSelector labelSelector `yaml:"podSelector"`
		PolicyTypes []string      `yaml:"policyTypes"`
		Ingress     []netRule     `yaml:"ingress"`
		Egress      []netRule     `yaml:"egress"`
	} `yaml:"spec"`
}

type scaledObject struct {
	Metadata k8sMeta `yaml:"metadata"`
	Spec     struct {
		ScaleTargetRef struct {
			Kind string `yaml:"kind"`
			Name string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		MinReplicaCount *int `yaml:"minReplicaCount"`
		MaxReplicaCount *int `yaml:"maxReplicaCount"`
		Triggers        []struct {
			Type     string            `yaml:"type"`
			Metadata map[string]string `yaml:"metadata"`
		} `yaml:"triggers"`
	} `yaml:"spec"`
}

type pdb struct {
	Metadata k8sMeta `yaml:"metadata"`
	Spec     struct {
		MinAvailable   any           `yaml:"minAvailable"`
		MaxUnavailable any           `yaml:"maxUnavailable"`
		Selector       labelSelector `yaml:"selector"`
	} `yaml:"spec"`
}

type k8sService struct {
	Metadata k8sMeta `yaml:"metadata"`
	Spec     struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Port       int `yaml:"port"`
			TargetPort any `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

// rendering is one overlay's `kustomize build` output, by kind.
type rendering struct {
	overlay     string
	deployments map[string]workload // by target
	jobs        []workload
	configMaps  map[string]map[string]string
	secrets     map[string]map[string]string // decoded values
	netpols     []networkPolicy
	scaled      []scaledObject
	pdbs        []pdb
	services    []k8sService
	namespaces  map[string]bool // of namespaced objects
}

// renderOverlay runs kustomize as `kustomize build deploy/k8s/overlays/<name>` does.
func renderOverlay(t *testing.T, name string) *rendering {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(k8sDir, "overlays", name))
	if err != nil {
		t.Fatalf("kustomize build deploy/k8s/overlays/%s: %v", name, err)
	}
	r := &rendering{overlay: name, deployments: map[string]workload{}, configMaps: map[string]map[string]string{},
		secrets: map[string]map[string]string{}, namespaces: map[string]bool{}}
	for _, res := range m.Resources() {
		raw, err := res.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			Kind       string            `yaml:"kind"`
			Metadata   k8sMeta           `yaml:"metadata"`
			Data       map[string]string `yaml:"data"`
			StringData map[string]string `yaml:"stringData"`
		}
		must(t, yaml.Unmarshal(raw, &head))
		if head.Kind != "Namespace" {
			r.namespaces[head.Metadata.Namespace] = true
		}
		switch head.Kind {
		case "Deployment":
			var w workload
			must(t, yaml.Unmarshal(raw, &w))
			target := targetOf(t, w)
			if _, dup := r.deployments[target]; dup {
				t.Errorf("%s: two Deployments run -target=%s", name, target)
			}
			r.deployments[target] = w
		case "Job":
			var w workload
			must(t, yaml.Unmarshal(raw, &w))
			r.jobs = append(r.jobs, w)
		case "ConfigMap":
			r.configMaps[head.Metadata.Name] = head.Data
		case "Secret":
			vals := map[string]string{}
			for k, v := range head.Data {
				b, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					t.Fatalf("Secret %s key %s: %v", head.Metadata.Name, k, err)
				}
				vals[k] = string(b)
			}
			for k, v := range head.StringData {
				vals[k] = v
			}
			r.secrets[head.Metadata.Name] = vals
		case "NetworkPolicy":
			var np networkPolicy
			must(t, yaml.Unmarshal(raw, &np))
			r.netpols = append(r.netpols, np)
		case "ScaledObject":
			var so scaledObject
			must(t, yaml.Unmarshal(raw, &so))
			r.scaled = append(r.scaled, so)
		case "PodDisruptionBudget":
			var p pdb
			must(t, yaml.Unmarshal(raw, &p))
			r.pdbs = append(r.pdbs, p)
		case "Service":
			var svc k8sService
			must(t, yaml.Unmarshal(raw, &svc))
			r.services = append(r.services, svc)
		}
	}
	return r
}

// cm returns a generated ConfigMap by its name before kustomize added the
// content hash.
func (r *rendering) cm(t *testing.T, base string) map[string]string {
	t.Helper()
	for name, data := range r.configMaps {
		if name == base || (strings.HasPrefix(name, base+"-") && len(name) == len(base)+11) {
			return data
		}
	}
	t.Fatalf("%s: no ConfigMap %s", r.overlay, base)
	return nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// syncdArgs is what the container runs after the image's entrypoint
// (/usr/local/bin/syncd).
func syncdArgs(c container) []string {
	if len(c.Command) > 0 {
		if filepath.Base(c.Command[0]) != "syncd" {
			return nil
		}
		return append(append([]string(nil), c.Command[1:]...), c.Args...)
	}
	return c.Args
}

func targetOf(t *testing.T, w workload) string {
	t.Helper()
	cs := w.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("Deployment %s: %d containers, want the one syncd container", w.Metadata.Name, len(cs))
	}
	args := syncdArgs(cs[0])
	if len(args) != 2 || args[0] != "run" || !strings.HasPrefix(args[1], "-target=") {
		t.Fatalf("Deployment %s runs %q, want syncd run -target=<name>", w.Metadata.Name, args)
	}
	return strings.TrimPrefix(args[1], "-target=")
}

// overlays lists deploy/k8s/overlays; the README must name each.
func overlays(t *testing.T) []string {
	entries, err := os.ReadDir(filepath.Join(k8sDir, "overlays"))
	must(t, err)
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) < 2 {
		t.Fatalf("overlays: %v, want demo and production", names)
	}
	return names
}

// targetVariables is every variable `syncd run -target=<target>` reads.
func targetVariables(t *testing.T, target string) map[string]bool {
	t.Helper()
	order, _, err := resolveTargets(target)
	if err != nil {
		t.Fatal(err)
	}
	a := &app{}
	cfgs := []any{&a.run}
	for _, m := range order {
		if m.configs != nil {
			cfgs = append(cfgs, m.configs(a)...)
		}
	}
	vars := map[string]bool{}
	for _, v := range config.Variables(cfgs...) {
		vars[v] = true
	}
	return vars
}

// streamsVariables is what `syncd streams ensure` reads (cmdStreams).
func streamsVariables() map[string]bool {
	var cfg struct {
		Log  logging.Config
		NATS config.NATS `env:", prefix=NATS_"`
	}
	vars := map[string]bool{}
	for _, v := range config.Variables(&cfg) {
		vars[v] = true
	}
	return vars
}

func randomKey(t *testing.T) string {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	must(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

// stand-in values for secrets the operator provides: well-formed, so the
// rest of the configuration is what a load checks.
func secretStandIn(t *testing.T, name string) string {
	switch {
	case strings.HasPrefix(name, "SYNC_TOKEN_KEY"):
		return randomKey(t)
	case strings.HasSuffix(name, "_EMAIL"):
		return "admin@example.com"
	default:
		return "stand-in-" + strings.ToLower(name) + "-0123456789"
	}
}

// containerEnv resolves a container's environment as the kubelet would.
// Secret values are stand-ins (standIn) or, with realSecrets, the values of
// the rendered Secrets.
func (r *rendering) containerEnv(t *testing.T, where string, c container, realSecrets bool) (env map[string]string, secretRefs map[string]keyRef) {
	t.Helper()
	env, secretRefs = map[string]string{}, map[string]keyRef{}
	set := func(k, v string) {
		if _, dup := env[k]; dup {
			t.Errorf("%s: %s is set twice", where, k)
		}
		env[k] = v
	}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm, ok := r.configMaps[ef.ConfigMapRef.Name]
			if !ok {
				t.Errorf("%s: envFrom ConfigMap %s is not in the overlay", where, ef.ConfigMapRef.Name)
			}
			for k, v := range cm {
				set(k, v)
			}
		case ef.SecretRef != nil:
			t.Errorf("%s: envFrom Secret %s: reference secret keys one by one, so each target gets only what it reads", where, ef.SecretRef.Name)
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			set(e.Name, e.Value)
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			v, ok := r.configMaps[ref.Name][ref.Key]
			if !ok && !ref.Optional {
				t.Errorf("%s: %s from ConfigMap %s key %s, which the overlay does not have", where, e.Name, ref.Name, ref.Key)
			}
			set(e.Name, v)
		case e.ValueFrom.SecretKeyRef != nil:
			ref := *e.ValueFrom.SecretKeyRef
			secretRefs[e.Name] = ref
			if ref.Key != e.Name {
				t.Errorf("%s: %s comes from secret key %s; keep key and variable names equal", where, e.Name, ref.Key)
			}
			if realSecrets {
				if v, ok := r.secrets[ref.Name][ref.Key]; ok {
					set(e.Name, v)
				}
				continue
			}
			set(e.Name, secretStandIn(t, e.Name))
		case e.ValueFrom.ResourceFieldRef != nil:
			if !goRuntimeVariables[e.Name] {
				t.Errorf("%s: %s from a resource field is not a Go runtime variable", where, e.Name)
			}
			if e.Name == "GOMEMLIMIT" {
				if e.ValueFrom.ResourceFieldRef.Resource != "limits.memory" || c.Resources.Limits["memory"] == "" {
					t.Errorf("%s: GOMEMLIMIT must follow a set limits.memory", where)
				}
			}
		default:
			t.Errorf("%s: %s has an unsupported valueFrom", where, e.Name)
		}
	}
	return env, secretRefs
}

func checkProbePath(t *testing.T, where string, p *probe, wantPath string) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s: no HTTP probe for %s", where, wantPath)
		return
	}
	if p.HTTPGet.Path != wantPath {
		t.Errorf("%s: probe path %s, want %s", where, p.HTTPGet.Path, wantPath)
	}
}

// probePort resolves a probe's port (number or port name) to a number.
func probePort(c container, p *probe) int {
	if p == nil || p.HTTPGet == nil {
		return 0
	}
	switch v := p.HTTPGet.Port.(type) {
	case int:
		return v
	case string:
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
		for _, cp := range c.Ports {
			if cp.Name == v {
				return cp.ContainerPort
			}
		}
	}
	return 0
}

// TestKustomizeOverlaysRunTheBinary renders every overlay and checks each
// Deployment and the streams Job against syncd itself.
func TestKustomizeOverlaysRunTheBinary(t *testing.T) {
	ctx := context.Background()
	for _, name := range overlays(t) {
		t.Run(name, func(t *testing.T) {
			r := renderOverlay(t, name)
			if len(r.namespaces) != 1 || r.namespaces[""] {
				t.Errorf("objects spread over namespaces %v; an overlay installs into one", r.namespaces)
			}

			// The split of docker-compose.yml: one Deployment per target of `all`.
			for _, m := range modules {
				if m.public && m.inAll {
					if _, ok := r.deployments[m.name]; !ok {
						t.Errorf("target %s runs in no Deployment", m.name)
					}
				}
			}

			images := map[string][]string{}
			natsReplicas := map[string]bool{}
			for target, d := range r.deployments {
				where := "Deployment " + d.Metadata.Name
				order, embedded, err := resolveTargets(target)
				if err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				if embedded || len(order) == 0 {
					t.Errorf("%s: -target=%s embeds NATS; one target per Deployment", where, target)
				}
				c := d.Spec.Template.Spec.Containers[0]
				images[c.Image] = append(images[c.Image], where)
				env, _ := r.containerEnv(t, where, c, false)
				known := targetVariables(t, target)
				for v := range env {
					if !known[v] && !goRuntimeVariables[v] {
						t.Errorf("%s sets %s, which -target=%s does not read", where, v, target)
					}
				}
				natsReplicas[env["NATS_REPLICAS"]] = true

				// The binary's own load: types, ranges, pairs, required values.
				a, _, err := loadApp(ctx, target, envconfig.MapLookuper(env))
				if err != nil {
					t.Errorf("%s: syncd run -target=%s refuses this configuration: %v", where, target, err)
					continue
				}
				if a.run.NATS.URL == "" {
					t.Errorf("%s: no NATS_URL", where)
				}
				if a.run.EnsureStreams {
					t.Errorf("%s: SYNC_STREAMS_ENSURE is on; the streams Job owns the topology", where)
				}
				if name == "production" && a.run.NATS.Replicas != 3 {
					t.Errorf("%s: NATS_REPLICAS=%d in production, want 3", where, a.run.NATS.Replicas)
				}

				// Probes on the port syncd listens on.
				_, port, err := net.SplitHostPort(a.run.HTTPAddr)
				must(t, err)
				httpPort, _ := strconv.Atoi(port)
				declared := false
				for _, cp := range c.Ports {
					declared = declared || cp.ContainerPort == httpPort
				}
				if !declared {
					t.Errorf("%s: SYNC_HTTP_ADDR port %d is not a container port", where, httpPort)
				}
				checkProbePath(t, where, c.LivenessProbe, "/healthz")
				checkProbePath(t, where, c.ReadinessProbe, "/readyz")
				for _, p := range []*probe{c.LivenessProbe, c.ReadinessProbe} {
					if got := probePort(c, p); got != httpPort {
						t.Errorf("%s: probe on port %d, syncd serves probes on %d (SYNC_HTTP_ADDR)", where, got, httpPort)
					}
				}

				// SIGKILL only after the drain syncd allows itself.
				grace := time.Duration(30) * time.Second // Kubernetes' default
				if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
					grace = time.Duration(*g) * time.Second
				}
				drain := a.run.ShutdownTimeout
				if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
					drain += time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
				}
				if grace <= drain {
					t.Errorf("%s: terminationGracePeriodSeconds %s is not longer than preStop + SYNC_SHUTDOWN_TIMEOUT (%s)", where, grace, drain)
				}

				checkHardening(t, where, d.Spec.Template, c)
				for _, res := range []string{"cpu", "memory"} {
					if c.Resources.Requests[res] == "" || c.Resources.Limits[res] == "" {
						t.Errorf("%s: no %s request and limit", where, res)
					}
				}
				if !(&labelSelector{MatchLabels: d.Spec.Selector.MatchLabels}).matches(d.Spec.Template.Metadata.Labels) {
					t.Errorf("%s: selector does not select its own pods", where)
				}
			}

			// The streams Job.
			var ensure []workload
			for _, j := range r.jobs {
				args := syncdArgs(j.Spec.Template.Spec.Containers[0])
				if len(args) >= 2 && args[0] == "streams" && args[1] == "ensure" {
					ensure = append(ensure, j)
				}
			}
			if len(ensure) != 1 {
				t.Fatalf("%d Jobs run `syncd streams ensure`, want 1", len(ensure))
			}
			job := ensure[0]
			jc := job.Spec.Template.Spec.Containers[0]
			where := "Job " + job.Metadata.Name
			images[jc.Image] = append(images[jc.Image], where)
			env, _ := r.containerEnv(t, where, jc, false)
			known := streamsVariables()
			for v := range env {
				if !known[v] {
					t.Errorf("%s sets %s, which syncd streams ensure does not read", where, v)
				}
			}
			var jcfg struct {
				NATS config.NATS `env:", prefix=NATS_"`
			}
			if err := config.Load(ctx, envconfig.MapLookuper(env), &jcfg); err != nil {
				t.Errorf("%s: %v", where, err)
			}
			if jcfg.NATS.URL == "" {
				t.Errorf("%s: no NATS_URL", where)
			}
			want := "1"
			if name == "production" {
				want = "3"
			}
			if strconv.Itoa(jcfg.NATS.Replicas) != want {
				t.Errorf("%s: NATS_REPLICAS=%d, want %s in %s", where, jcfg.NATS.Replicas, want, name)
			}
			if !natsReplicas[env["NATS_REPLICAS"]] || len(natsReplicas) != 1 {
				t.Errorf("%s: NATS_REPLICAS %q, the Deployments %v: one value for the whole overlay", where, env["NATS_REPLICAS"], natsReplicas)
			}
			checkHardening(t, where, job.Spec.Template, jc)

			// One image for everything.
			if len(images) != 1 {
				t.Errorf("several images: %v", images)
			}
			for img := range images {
				if name == "production" && (strings.HasSuffix(img, ":local") || !strings.Contains(img, ":")) {
					t.Errorf("production runs %s; pin a built version", img)
				}
			}

			checkPDBs(t, r)
			checkServices(t, r)
		})
	}
}

func checkHardening(t *testing.T, where string, pt podTemplate, c container) {
	t.Helper()
	ps := pt.Spec
	if ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
		t.Errorf("%s: runAsNonRoot is not set", where)
	}
	if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
		t.Errorf("%s: mounts a service account token syncd never uses", where)
	}
	sc := c.SecurityContext
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation is not false", where)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: root filesystem is writable", where)
	}
	if strings.Join(sc.Capabilities.Drop, ",") != "ALL" {
		t.Errorf("%s: capabilities drop %v, want ALL", where, sc.Capabilities.Drop)
	}
}

// checkServices: api and ingestor have a Service reaching syncd's HTTP
// port on their pods, and nothing else has one.
func checkServices(t *testing.T, r *rendering) {
	t.Helper()
	_, portS, err := net.SplitHostPort(r.cm(t, "ledgersync-common")["SYNC_HTTP_ADDR"])
	must(t, err)
	httpPort, _ := strconv.Atoi(portS)
	exposed := map[string]bool{}
	for _, svc := range r.services {
		var hits []string
		for target, d := range r.deployments {
			if (&labelSelector{MatchLabels: svc.Spec.Selector}).matches(d.Spec.Template.Metadata.Labels) && len(svc.Spec.Selector) > 0 {
				hits = append(hits, target)
			}
		}
		if len(hits) != 1 {
			t.Errorf("Service %s selects the pods of %v, want one Deployment", svc.Metadata.Name, hits)
			continue
		}
		exposed[hits[0]] = true
		c := r.deployments[hits[0]].Spec.Template.Spec.Containers[0]
		for _, p := range svc.Spec.Ports {
			if got := probePort(c, &probe{HTTPGet: &struct {
				Path string `yaml:"path"`
				Port any    `yaml:"port"`
			}{Port: p.TargetPort}}); got != httpPort {
				t.Errorf("Service %s port %d targets %v, not syncd's HTTP port", svc.Metadata.Name, p.Port, p.TargetPort)
			}
		}
	}
	for _, target := range []string{"api", "ingestor"} {
		if !exposed[target] {
			t.Errorf("%s takes HTTP traffic but has no Service", target)
		}
	}
	for target := range exposed {
		if target != "api" && target != "ingestor" {
			t.Errorf("%s has a Service but takes no traffic", target)
		}
	}
}

func checkPDBs(t *testing.T, r *rendering) {
	t.Helper()
	covered := map[string]int{}
	for _, p := range r.pdbs {
		var hits []string
		for target, d := range r.deployments {
			if p.Spec.Selector.matches(d.Spec.Template.Metadata.Labels) {
				hits = append(hits, target)
			}
		}
		if len(hits) != 1 {
			t.Errorf("PodDisruptionBudget %s selects the pods of %v, want exactly one Deployment", p.Metadata.Name, hits)
			continue
		}
		covered[hits[0]]++
		d := r.deployments[hits[0]]
		replicas := 1
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		if n, ok := p.Spec.MinAvailable.(int); ok && n >= replicas {
			t.Errorf("PodDisruptionBudget %s: minAvailable %d with %d replicas blocks every drain", p.Metadata.Name, n, replicas)
		}
		if p.Spec.MinAvailable == nil && p.Spec.MaxUnavailable == nil {
			t.Errorf("PodDisruptionBudget %s sets no budget", p.Metadata.Name)
		}
	}
	for target := range r.deployments {
		if covered[target] != 1 {
			t.Errorf("Deployment of %s has %d PodDisruptionBudgets, want 1", target, covered[target])
		}
	}
}

// TestKustomizeScaledObjectsFollowTheTopology: KEDA scales each stage on
// consumers that exist and belong to it; the writer stays capped.
func TestKustomizeScaledObjectsFollowTheTopology(t *testing.T) {
	for _, name := range overlays(t) {
		t.Run(name, func(t *testing.T) {
			r := renderOverlay(t, name)
			if name == "production" && len(r.scaled) == 0 {
				t.Fatal("production has no ScaledObjects")
			}
			if len(r.scaled) == 0 {
				return
			}
			natsURL, err := url.Parse(r.cm(t, "ledgersync-common")["NATS_URL"])
			must(t, err)
			release, rest, _ := strings.Cut(natsURL.Hostname(), ".")
			wantEndpoint := release + "-headless." + rest + ":8222"

			byDeployment := map[string]string{}
			for target, d := range r.deployments {
				byDeployment[d.Metadata.Name] = target
			}
			topo := streams.Default(3)
			scaledConsumers := map[string]bool{}
			maxOf := map[string]int{}
			for _, so := range r.scaled {
				where := "ScaledObject " + so.Metadata.Name
				target, ok := byDeployment[so.Spec.ScaleTargetRef.Name]
				if !ok || (so.Spec.ScaleTargetRef.Kind != "" && so.Spec.ScaleTargetRef.Kind != "Deployment") {
					t.Errorf("%s scales %s, which is no Deployment of the overlay", where, so.Spec.ScaleTargetRef.Name)
					continue
				}
				if target == "api" || target == "ingestor" {
					t.Errorf("%s scales %s, an HTTP target with no consumer", where, target)
				}
				if r.deployments[target].Spec.Replicas != nil {
					t.Errorf("%s: Deployment %s sets replicas, which every apply would reset under KEDA", where, so.Spec.ScaleTargetRef.Name)
				}
				if so.Spec.MaxReplicaCount == nil || so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount > *so.Spec.MaxReplicaCount || *so.Spec.MinReplicaCount < 1 {
					t.Errorf("%s: replica range %v..%v", where, so.Spec.MinReplicaCount, so.Spec.MaxReplicaCount)
					continue
				}
				maxOf[target] = *so.Spec.MaxReplicaCount
				if len(so.Spec.Triggers) == 0 {
					t.Errorf("%s: no triggers", where)
				}
				for _, tr := range so.Spec.Triggers {
					md := tr.Metadata
					if tr.Type != "nats-jetstream" {
						t.Errorf("%s: trigger %s, want nats-jetstream", where, tr.Type)
						continue
					}
					c, ok := topo.Consumer(md["consumer"])
					if !ok {
						t.Errorf("%s: consumer %q is not in streams.Default", where, md["consumer"])
						continue
					}
					if c.Stream != md["stream"] {
						t.Errorf("%s: consumer %s reads stream %s, not %s", where, md["consumer"], c.Stream, md["stream"])
					}
					if md["consumer"] != target && !strings.HasPrefix(md["consumer"], target+"_") {
						t.Errorf("%s scales %s on %s's consumer %s", where, target, md["stream"], md["consumer"])
					}
					if n, err := strconv.Atoi(md["lagThreshold"]); err != nil || n < 1 {
						t.Errorf("%s: lagThreshold %q", where, md["lagThreshold"])
					}
					if md["natsServerMonitoringEndpoint"] != wantEndpoint {
						t.Errorf("%s: monitoring endpoint %s; NATS_URL %s makes it %s", where, md["natsServerMonitoringEndpoint"], natsURL, wantEndpoint)
					}
					if md["account"] != "$G" {
						t.Errorf("%s: account %q; syncd connects without accounts ($G)", where, md["account"])
					}
					scaledConsumers[md["consumer"]] = true
				}
			}
			// Every consumer of a scaled stage counts, e.g. each object's
			// backfill lane of the writer.
			for _, c := range topo.Consumers {
				for target := range maxOf {
					if (c.Config.Durable == target || strings.HasPrefix(c.Config.Durable, target+"_")) && !scaledConsumers[c.Config.Durable] {
						t.Errorf("consumer %s of %s drives no trigger", c.Config.Durable, target)
					}
				}
			}
			for _, stage := range []string{"transformer", "resolver", "writer", "activitysink"} {
				if _, ok := maxOf[stage]; !ok {
					t.Errorf("%s has no ScaledObject", stage)
				}
			}
			if w, ok := maxOf["writer"]; ok {
				if w > 3 {
					t.Errorf("writer maxReplicaCount %d; the APIs' rate limits bound it, keep it at 3 or less", w)
				}
				for target, m := range maxOf {
					if target != "writer" && m <= w {
						t.Errorf("writer may scale to %d, as far as %s (%d): it should be the lowest cap", w, target, m)
					}
				}
			}
		})
	}
}

// policyRules gathers the rules of every policy selecting labels.
func policyRules(nps []networkPolicy, labels map[string]string) (ingress, egress []netRule, types map[string]bool) {
	types = map[string]bool{}
	for _, np := range nps {
		if !np.Spec.PodSelector.matches(labels) {
			continue
		}
		for _, ty := range np.Spec.PolicyTypes {
			types[ty] = true
		}
		ingress = append(ingress, np.Spec.Ingress...)
		egress = append(egress, np.Spec.Egress...)
	}
	return ingress, egress, types
}

func allowsPort(rules []netRule, port int, peer func(netPeer) bool, peers func(netRule) []netPeer) bool {
	for _, r := range rules {
		portOK := len(r.Ports) == 0
		for _, p := range r.Ports {
			portOK = portOK || p.Port == port
		}
		if !portOK {
			continue
		}
		ps := peers(r)
		if len(ps) == 0 {
			return true // no peers: any source or destination
		}
		for _, p := range ps {
			if peer(p) {
				return true
			}
		}
	}
	return false
}

func egressPeers(r netRule) []netPeer  { return r.To }
func ingressPeers(r netRule) []netPeer { return r.From }

func inNamespace(ns string) func(netPeer) bool {
	return func(p netPeer) bool {
		return p.NamespaceSelector != nil && p.NamespaceSelector.matches(map[string]string{"kubernetes.io/metadata.name": ns})
	}
}

func publicAddress(p netPeer) bool {
	if p.IPBlock == nil {
		return false
	}
	_, block, err := net.ParseCIDR(p.IPBlock.CIDR)
	if err != nil || !block.Contains(net.ParseIP("52.1.2.3")) {
		return false
	}
	for _, ex := range p.IPBlock.Except {
		if _, e, err := net.ParseCIDR(ex); err == nil && e.Contains(net.ParseIP("52.1.2.3")) {
			return false
		}
	}
	return true
}

// TestKustomizeNetworkPoliciesAllowOnlyWhatTargetsUse derives what each
// target needs from what it reads (NATS_URL, CLICKHOUSE_ADDR, the API
// URLs) and checks the policies allow that and no more.
func TestKustomizeNetworkPoliciesAllowOnlyWhatTargetsUse(t *testing.T) {
	for _, name := range overlays(t) {
		t.Run(name, func(t *testing.T) {
			r := renderOverlay(t, name)
			denyAll := false
			for _, np := range r.netpols {
				sel := np.Spec.PodSelector
				if len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 && len(np.Spec.Ingress) == 0 && len(np.Spec.Egress) == 0 &&
					strings.Contains(strings.Join(np.Spec.PolicyTypes, ","), "Ingress") && strings.Contains(strings.Join(np.Spec.PolicyTypes, ","), "Egress") {
					denyAll = true
				}
			}
			if !denyAll {
				t.Error("no default-deny NetworkPolicy")
			}
			common := r.cm(t, "ledgersync-common")
			natsURL, err := url.Parse(strings.Split(common["NATS_URL"], ",")[0])
			must(t, err)
			natsPort, _ := strconv.Atoi(natsURL.Port())
			natsNS := strings.Split(natsURL.Hostname(), ".")[1]
			ch := r.cm(t, "ledgersync-clickhouse")
			chHost, chPortS, err := net.SplitHostPort(ch["CLICKHOUSE_ADDR"])
			must(t, err)
			chPort, _ := strconv.Atoi(chPortS)
			chNS := strings.Split(chHost, ".")[1]
			dns := func(p netPeer) bool { return inNamespace("kube-system")(p) }

			pods := map[string]podTemplate{}
			for target, d := range r.deployments {
				pods[target] = d.Spec.Template
			}
			for _, j := range r.jobs {
				pods["job/"+j.Metadata.Name] = j.Spec.Template
			}
			for target, pt := range pods {
				ingress, egress, types := policyRules(r.netpols, pt.Metadata.Labels)
				if !types["Ingress"] || !types["Egress"] {
					t.Errorf("%s: not covered by policies of both directions (%v)", target, types)
				}
				if !allowsPort(egress, natsPort, inNamespace(natsNS), egressPeers) {
					t.Errorf("%s: no egress to NATS (%s port %d)", target, natsNS, natsPort)
				}
				if !allowsPort(egress, 53, dns, egressPeers) {
					t.Errorf("%s: no egress to DNS", target)
				}
				if strings.HasPrefix(target, "job/") {
					if allowsPort(egress, 443, publicAddress, egressPeers) || allowsPort(egress, chPort, inNamespace(chNS), egressPeers) {
						t.Errorf("%s: egress beyond NATS and DNS", target)
					}
					continue
				}
				vars := targetVariables(t, target)
				needsCH := vars["CLICKHOUSE_ADDR"]
				if got := allowsPort(egress, chPort, inNamespace(chNS), egressPeers); got != needsCH {
					t.Errorf("%s: egress to ClickHouse %v, reads CLICKHOUSE_ADDR %v", target, got, needsCH)
				}
				callsAPIs := vars["HUBSPOT_API_URL"] && vars["QBO_API_URL"]
				if got := allowsPort(egress, 443, publicAddress, egressPeers); got != callsAPIs {
					t.Errorf("%s: egress to public HTTPS %v, calls the HubSpot/QBO APIs %v", target, got, callsAPIs)
				}
				public := target == "api" || target == "ingestor"
				if got := allowsPort(ingress, 8080, publicAddress, ingressPeers); got != public {
					t.Errorf("%s: HTTP port open to any source %v, want %v", target, got, public)
				}
				if !allowsPort(ingress, 8080, inNamespace("monitoring"), ingressPeers) {
					t.Errorf("%s: /metrics not reachable from the monitoring namespace", target)
				}
			}
		})
	}
}

// placeholder reports whether a committed secret value is clearly not a real one.
func placeholder(v string) bool {
	return v == "" || strings.HasPrefix(v, "change-me")
}

// TestKustomizeSecretsArePlaceholders: no real secret in git; production
// only refers to a Secret made outside the repository.
func TestKustomizeSecretsArePlaceholders(t *testing.T) {
	for _, name := range overlays(t) {
		t.Run(name, func(t *testing.T) {
			r := renderOverlay(t, name)
			for sname, vals := range r.secrets {
				for k, v := range vals {
					if !placeholder(v) {
						t.Errorf("Secret %s key %s holds a value that is not a placeholder", sname, k)
					}
				}
			}
			if name == "production" && len(r.secrets) > 0 {
				t.Errorf("production renders Secrets %v; it must refer to an existing one", keys(r.secrets))
			}
			for target, d := range r.deployments {
				_, refs := r.containerEnv(t, target, d.Spec.Template.Spec.Containers[0], false)
				for v, ref := range refs {
					if ref.Name != externalSecret {
						t.Errorf("%s: %s from Secret %s, want %s", target, v, ref.Name, externalSecret)
					}
					if _, ok := r.secrets[ref.Name][ref.Key]; name != "production" && !ok && !ref.Optional {
						t.Errorf("%s: %s: the overlay's Secret has no key %s", target, v, ref.Key)
					}
				}
				// The demo's placeholders must not start anything that
				// encrypts tokens: syncd refuses them.
				if name != "production" && targetVariables(t, target)["SYNC_TOKEN_KEY"] {
					env, _ := r.containerEnv(t, target, d.Spec.Template.Spec.Containers[0], true)
					_, _, err := loadApp(context.Background(), target, envconfig.MapLookuper(env))
					if err == nil || !strings.Contains(err.Error(), "SYNC_TOKEN_KEY") {
						t.Errorf("%s starts with the committed placeholder token key (err %v)", target, err)
					}
				}
			}
		})
	}
}

// TestKustomizeNoSecretFileHoldsAValue looks at every YAML file under
// deploy/, rendered or not (dependencies, examples), for Secrets with values.
func TestKustomizeNoSecretFileHoldsAValue(t *testing.T) {
	err := filepath.WalkDir("../../deploy", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || (!strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".yml")) {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		dec := yaml.NewDecoder(f)
		for {
			var doc struct {
				Kind       string            `yaml:"kind"`
				Metadata   k8sMeta           `yaml:"metadata"`
				Data       map[string]string `yaml:"data"`
				StringData map[string]string `yaml:"stringData"`
			}
			if err := dec.Decode(&doc); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return fmt.Errorf("%s: %w", path, err)
			}
			if doc.Kind != "Secret" {
				continue
			}
			for k, v := range doc.StringData {
				if !placeholder(v) {
					t.Errorf("%s: Secret %s key %s holds a value", path, doc.Metadata.Name, k)
				}
			}
			for k, v := range doc.Data {
				if b, err := base64.StdEncoding.DecodeString(v); err != nil || !placeholder(string(b)) {
					t.Errorf("%s: Secret %s key %s holds a value", path, doc.Metadata.Name, k)
				}
			}
		}
	})
	must(t, err)
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestKustomizeDependenciesMatchTheManifests checks the NATS chart values,
// the ClickHouseInstallation and its README against the addresses, users
// and Secret the manifests use.
func TestKustomizeDependenciesMatchTheManifests(t *testing.T) {
	deps := filepath.Join(k8sDir, "dependencies")
	readme, err := os.ReadFile(filepath.Join(deps, "README.md"))
	must(t, err)
	prod := renderOverlay(t, "production")
	demo := renderOverlay(t, "demo")

	type natsValues struct {
		Config struct {
			Cluster struct {
				Enabled  bool `yaml:"enabled"`
				Replicas int  `yaml:"replicas"`
			} `yaml:"cluster"`
			JetStream struct {
				Enabled   bool `yaml:"enabled"`
				FileStore struct {
					Enabled bool `yaml:"enabled"`
					PVC     struct {
						Enabled bool   `yaml:"enabled"`
						Size    string `yaml:"size"`
					} `yaml:"pvc"`
				} `yaml:"fileStore"`
			} `yaml:"jetstream"`
			Monitor struct {
				Enabled bool `yaml:"enabled"`
				Port    int  `yaml:"port"`
			} `yaml:"monitor"`
		} `yaml:"config"`
	}
	for _, c := range []struct {
		file string
		r    *rendering
	}{{"nats-values.yaml", prod}, {"nats-values-demo.yaml", demo}} {
		raw, err := os.ReadFile(filepath.Join(deps, c.file))
		must(t, err)
		var v natsValues
		must(t, yaml.Unmarshal(raw, &v))
		nodes := 1
		if v.Config.Cluster.Enabled {
			nodes = v.Config.Cluster.Replicas
		}
		js := v.Config.JetStream
		if !js.Enabled || !js.FileStore.Enabled || !js.FileStore.PVC.Enabled || js.FileStore.PVC.Size == "" {
			t.Errorf("%s: JetStream must be on, on a file store with a volume", c.file)
		}
		if !v.Config.Monitor.Enabled || v.Config.Monitor.Port != 8222 {
			t.Errorf("%s: monitoring must be on 8222 (KEDA reads it)", c.file)
		}
		replicas, _ := strconv.Atoi(c.r.cm(t, "ledgersync-common")["NATS_REPLICAS"])
		if replicas > nodes {
			t.Errorf("%s runs %d NATS nodes; the %s overlay asks for R%d", c.file, nodes, c.r.overlay, replicas)
		}
		if !strings.Contains(string(readme), "-f deploy/k8s/dependencies/"+c.file) {
			t.Errorf("dependencies/README.md never installs with %s", c.file)
		}
		if c.r == prod && (nodes != 3 || replicas != 3) {
			t.Errorf("production: %d NATS nodes and R%d, want 3 and 3", nodes, replicas)
		}
		// JetStream refuses a stream whose cap does not fit what the
		// server has left of its store, which (unless configured) is
		// three quarters of its volume. Each node holds replicas/nodes of
		// every stream.
		volume, err := quantityBytes(js.FileStore.PVC.Size)
		must(t, err)
		capBytes, _ := strconv.ParseInt(c.r.cm(t, "ledgersync-common")["NATS_STREAM_MAX_BYTES"], 10, 64)
		topo := streams.Default(replicas)
		topo.LimitStreamBytes(capBytes)
		var perNode int64
		for _, st := range topo.Streams {
			perNode += st.Config.MaxBytes * int64(replicas) / int64(nodes)
		}
		if perNode <= 0 || perNode > volume/4*3 {
			t.Errorf("%s: the streams reserve %d bytes on each node (NATS_STREAM_MAX_BYTES %d), more than the server takes of a %s volume",
				c.file, perNode, capBytes, js.FileStore.PVC.Size)
		}
	}

	// The helm release and namespace give the NATS addresses.
	m := regexp.MustCompile(`helm upgrade --install (\S+) nats/nats --namespace (\S+)`).FindStringSubmatch(string(readme))
	if m == nil {
		t.Fatal("dependencies/README.md: no helm command for nats/nats")
	}
	for _, r := range []*rendering{prod, demo} {
		want := fmt.Sprintf("nats://%s.%s.svc.cluster.local:4222", m[1], m[2])
		if got := r.cm(t, "ledgersync-common")["NATS_URL"]; got != want {
			t.Errorf("%s: NATS_URL %s, the README's helm release makes it %s", r.overlay, got, want)
		}
	}

	// The ClickHouseInstallation.
	raw, err := os.ReadFile(filepath.Join(deps, "clickhouse-installation.yaml"))
	must(t, err)
	var chi struct {
		Kind     string  `yaml:"kind"`
		Metadata k8sMeta `yaml:"metadata"`
		Spec     struct {
			Configuration struct {
				Users map[string]any `yaml:"users"`
			} `yaml:"configuration"`
		} `yaml:"spec"`
	}
	must(t, yaml.Unmarshal(raw, &chi))
	if chi.Kind != "ClickHouseInstallation" {
		t.Fatalf("clickhouse-installation.yaml: kind %s", chi.Kind)
	}
	if !strings.Contains(string(readme), "kubectl apply -f deploy/k8s/dependencies/clickhouse-installation.yaml") {
		t.Error("dependencies/README.md never applies clickhouse-installation.yaml")
	}
	for _, r := range []*rendering{prod, demo} {
		ch := r.cm(t, "ledgersync-clickhouse")
		host, _, err := net.SplitHostPort(ch["CLICKHOUSE_ADDR"])
		must(t, err)
		if want := "clickhouse-" + chi.Metadata.Name + "." + chi.Metadata.Namespace + ".svc.cluster.local"; host != want {
			t.Errorf("%s: CLICKHOUSE_ADDR host %s; the operator's Service is %s", r.overlay, host, want)
		}
		user := ch["CLICKHOUSE_USERNAME"]
		ns := keys(r.namespaces)[0]
		want := ns + "/" + externalSecret + "/CLICKHOUSE_PASSWORD"
		if got := chi.Spec.Configuration.Users[user+"/k8s_secret_password"]; got != want {
			t.Errorf("%s: ClickHouse user %s takes its password from %v, syncd from %s", r.overlay, user, got, want)
		}
		// The NetworkPolicy reaches the operator's pods.
		chiPod := map[string]string{"clickhouse.altinity.com/chi": chi.Metadata.Name}
		found := false
		for _, np := range r.netpols {
			for _, rule := range np.Spec.Egress {
				for _, p := range rule.To {
					found = found || (p.PodSelector.matches(chiPod) && inNamespace(chi.Metadata.Namespace)(p))
				}
			}
		}
		if !found {
			t.Errorf("%s: no egress rule selects the ClickHouse pods of CHI %s/%s", r.overlay, chi.Metadata.Namespace, chi.Metadata.Name)
		}
	}
	if v := fmt.Sprint(chi.Spec.Configuration.Users["ledgersync_admin/access_management"]); v != "1" {
		t.Errorf("ledgersync_admin/access_management %s; sql-readers.sql needs it", v)
	}
	checkSQLReaders(t, prod.cm(t, "ledgersync-clickhouse")["CLICKHOUSE_USERNAME"])
}

var (
	sqlCreateTable = regexp.MustCompile(`(?is)CREATE TABLE IF NOT EXISTS (?:ledgersync\.)?(\w+)\s*\((.*?)\)\s*ENGINE`)
	sqlRowPolicy   = regexp.MustCompile(`(?is)^CREATE ROW POLICY (?:OR REPLACE |IF NOT EXISTS )?(\w+) ON ledgersync\.(\w+)(?: FOR SELECT)? USING (.+?) TO (.+)$`)
	sqlGrant       = regexp.MustCompile(`(?is)^GRANT (.+?) ON ledgersync\.(\w+) TO (\w+)$`)
	sqlGrantRole   = regexp.MustCompile(`(?is)^GRANT (\w+) TO (\w+)$`)
)

// checkSQLReaders parses deploy/clickhouse/sql-readers.sql (CI's ClickHouse
// 18.16 cannot run row policies) and checks the policies against the
// migrations' tables and the app's own user.
func checkSQLReaders(t *testing.T, appUser string) {
	t.Helper()
	columns := map[string]map[string]bool{}
	addTables := func(sql string) {
		for _, m := range sqlCreateTable.FindAllStringSubmatch(sql, -1) {
			cols := map[string]bool{}
			for _, line := range strings.Split(m[2], ",") {
				if f := strings.Fields(line); len(f) > 0 {
					cols[f[0]] = true
				}
			}
			columns[m[1]] = cols
		}
	}
	migrations, err := filepath.Glob("../../pkg/activity/migrations/*.sql")
	must(t, err)
	for _, f := range migrations {
		raw, err := os.ReadFile(f)
		must(t, err)
		addTables(string(raw))
	}
	if !columns["sync_activity"]["connection_id"] {
		t.Fatalf("migrations: no sync_activity.connection_id (found %v)", columns)
	}
	raw, err := os.ReadFile("../../deploy/clickhouse/sql-readers.sql")
	must(t, err)
	var stmts []string
	var b strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		b.WriteString(line + "\n")
	}
	for _, s := range strings.Split(b.String(), ";") {
		if s = strings.Join(strings.Fields(s), " "); s != "" {
			stmts = append(stmts, s)
		}
	}
	addTables(b.String())

	roleParents := map[string][]string{} // role -> roles granted to it
	tableGrants := map[string]map[string]string{}
	type policy struct{ name, table, using, to string }
	var policies []policy
	for _, s := range stmts {
		switch {
		case sqlRowPolicy.MatchString(s):
			m := sqlRowPolicy.FindStringSubmatch(s)
			policies = append(policies, policy{m[1], m[2], m[3], m[4]})
		case sqlGrant.MatchString(s):
			m := sqlGrant.FindStringSubmatch(s)
			if tableGrants[m[3]] == nil {
				tableGrants[m[3]] = map[string]string{}
			}
			tableGrants[m[3]][m[2]] = m[1]
		case sqlGrantRole.MatchString(s):
			m := sqlGrantRole.FindStringSubmatch(s)
			roleParents[m[2]] = append(roleParents[m[2]], m[1])
		}
	}
	if len(policies) == 0 {
		t.Fatal("sql-readers.sql: no row policies")
	}
	appSees := map[string]bool{}
	wsPolicy := map[string]map[string]bool{} // table -> roles with a filtering policy
	for _, p := range policies {
		cols, ok := columns[p.table]
		if !ok {
			t.Errorf("row policy %s on ledgersync.%s: no such table in the migrations", p.name, p.table)
			continue
		}
		to := strings.Split(strings.ReplaceAll(p.to, " ", ""), ",")
		if p.using == "1" {
			for _, u := range to {
				if u == appUser {
					appSees[p.table] = true
				}
			}
			continue
		}
		col := strings.Fields(p.using)[0]
		if !cols[col] {
			t.Errorf("row policy %s on %s filters on %s, which the table does not have", p.name, p.table, col)
		}
		if col == "connection_id" && !strings.Contains(p.using, "IN (SELECT connection_id FROM ledgersync.connection_workspaces FINAL WHERE workspace = ") {
			t.Errorf("row policy %s on %s does not map connections to a workspace: %s", p.name, p.table, p.using)
		}
		for _, role := range to {
			if wsPolicy[p.table] == nil {
				wsPolicy[p.table] = map[string]bool{}
			}
			wsPolicy[p.table][role] = true
		}
	}
	// A table with policies hides its rows from unnamed users: the app's
	// own user must keep every row.
	for table := range wsPolicy {
		if !appSees[table] {
			t.Errorf("ledgersync.%s has workspace policies but none lets %s (CLICKHOUSE_USERNAME) see every row", table, appUser)
		}
	}
	// Every workspace role reads only through its policies, and only SELECT.
	for role := range roleParents {
		if !strings.HasPrefix(role, "ledgersync_ws_") {
			continue
		}
		granted := map[string]string{}
		for _, parent := range append([]string{role}, roleParents[role]...) {
			for table, what := range tableGrants[parent] {
				granted[table] = what
			}
		}
		if len(granted) == 0 {
			t.Errorf("role %s can read nothing", role)
		}
		for table, what := range granted {
			if strings.ToUpper(strings.TrimSpace(what)) != "SELECT" {
				t.Errorf("role %s gets %s on %s; readers must only SELECT, or row policies mean nothing", role, what, table)
			}
			if !wsPolicy[table][role] {
				t.Errorf("role %s may SELECT ledgersync.%s without a row policy of its workspace", role, table)
			}
		}
	}
	if len(roleParents) == 0 {
		t.Error("sql-readers.sql: no workspace role")
	}
}

// TestKustomizeReadmeCommands: the README's Kubernetes commands name the
// overlays these tests render.
func TestKustomizeReadmeCommands(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	must(t, err)
	readme := string(raw)
	start := strings.Index(readme, "## Deploy on Kubernetes")
	end := strings.Index(readme, "## Layout")
	if start < 0 || end < start {
		t.Fatal(`README.md: no "## Deploy on Kubernetes" section before "## Layout"`)
	}
	section := readme[start:end]
	if !strings.Contains(section, "## Scale") {
		t.Error(`README.md: no "## Scale" section`)
	}
	for _, name := range overlays(t) {
		for _, cmd := range []string{"kubectl apply -k deploy/k8s/overlays/" + name, "kustomize build deploy/k8s/overlays/" + name} {
			if !strings.Contains(section, cmd) {
				t.Errorf("README.md does not say %q", cmd)
			}
		}
	}
	for _, m := range regexp.MustCompile(`deploy/k8s/overlays/([\w-]+)`).FindAllStringSubmatch(section, -1) {
		if _, err := os.Stat(filepath.Join(k8sDir, "overlays", m[1], "kustomization.yaml")); err != nil {
			t.Errorf("README.md names overlay %s, which does not exist", m[1])
		}
	}
	if !strings.Contains(section, "go test -count=1 -run 'TestKustomize' ./services/syncd/") {
		t.Error("README.md does not say how the manifests are checked")
	}
}

// quantityBytes reads a Kubernetes storage quantity with a binary suffix
// ("64Gi"), the only kind the NATS values use.
func quantityBytes(q string) (int64, error) {
	for i, suffix := range []string{"Ki", "Mi", "Gi", "Ti"} {
		if n, ok := strings.CutSuffix(q, suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			return v << (10 * (i + 1)), err
		}
	}
	return strconv.ParseInt(q, 10, 64)
}
