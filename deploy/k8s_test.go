package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/loupe-dev/loupe/examples/demo"
)

var k8sOverlays = []string{"dev", "prod"}

// k8sObjects is one overlay's build, decoded strictly into the official
// types: an unknown field, a misspelt key or a wrong type is an error.
type k8sObjects struct {
	deployments  []*appsv1.Deployment
	statefulSets []*appsv1.StatefulSet
	services     []*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
	accounts     map[string]*corev1.ServiceAccount
	pdbs         []*policyv1.PodDisruptionBudget
	hpas         []*autoscalingv2.HorizontalPodAutoscaler
	namespaces   []*corev1.Namespace
}

// kustomizeBuild runs kustomize's own build (the Go API that `kubectl
// kustomize` uses) on an overlay and decodes every object strictly.
func kustomizeBuild(t *testing.T, overlay string) *k8sObjects {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join("k8s", "overlays", overlay))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", overlay, err)
	}
	objs := &k8sObjects{configMaps: map[string]*corev1.ConfigMap{}, accounts: map[string]*corev1.ServiceAccount{}}
	for _, r := range rm.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		gvk := r.GetGvk()
		var into any
		switch gvk.ApiVersion() + "/" + gvk.Kind {
		case "apps/v1/Deployment":
			d := &appsv1.Deployment{}
			objs.deployments, into = append(objs.deployments, d), d
		case "apps/v1/StatefulSet":
			s := &appsv1.StatefulSet{}
			objs.statefulSets, into = append(objs.statefulSets, s), s
		case "v1/Service":
			s := &corev1.Service{}
			objs.services, into = append(objs.services, s), s
		case "v1/ConfigMap":
			c := &corev1.ConfigMap{}
			objs.configMaps[r.GetName()], into = c, c
		case "v1/ServiceAccount":
			a := &corev1.ServiceAccount{}
			objs.accounts[r.GetName()], into = a, a
		case "v1/Namespace":
			n := &corev1.Namespace{}
			objs.namespaces, into = append(objs.namespaces, n), n
		case "policy/v1/PodDisruptionBudget":
			p := &policyv1.PodDisruptionBudget{}
			objs.pdbs, into = append(objs.pdbs, p), p
		case "autoscaling/v2/HorizontalPodAutoscaler":
			h := &autoscalingv2.HorizontalPodAutoscaler{}
			objs.hpas, into = append(objs.hpas, h), h
		default:
			t.Errorf("%s: %s %s is of a kind this test does not decode: add it", overlay, gvk, r.GetName())
			continue
		}
		if err := yaml.UnmarshalStrict(b, into); err != nil {
			t.Errorf("%s: %s %s does not decode strictly into the k8s.io/api type: %v", overlay, gvk.Kind, r.GetName(), err)
		}
	}
	return objs
}

// workload is a Deployment or StatefulSet, as the checks see it.
type workload struct {
	kind, name string
	selector   *metav1.LabelSelector
	template   corev1.PodTemplateSpec
	claims     []corev1.PersistentVolumeClaim
}

func (o *k8sObjects) workloads() []workload {
	var ws []workload
	for _, d := range o.deployments {
		ws = append(ws, workload{"Deployment", d.Name, d.Spec.Selector, d.Spec.Template, nil})
	}
	for _, s := range o.statefulSets {
		ws = append(ws, workload{"StatefulSet", s.Name, s.Spec.Selector, s.Spec.Template, s.Spec.VolumeClaimTemplates})
	}
	return ws
}

// TestKustomizeOverlays builds each overlay and makes a reviewer's checks
// of every object.
func TestKustomizeOverlays(t *testing.T) {
	for _, overlay := range k8sOverlays {
		t.Run(overlay, func(t *testing.T) {
			o := kustomizeBuild(t, overlay)
			if len(o.namespaces) != 1 {
				t.Errorf("the overlay creates %d namespaces, want its own", len(o.namespaces))
			}
			checkWorkloads(t, o)
			checkServices(t, o)
			checkCollector(t, o)
			checkDemoServices(t, o)
		})
	}
}

var pinnedImage = regexp.MustCompile(`^[\w./-]+:v?\d+\.\d+(\.\d+)?(-[\w.-]+)?(@sha256:[0-9a-f]{64})?$`)

func checkWorkloads(t *testing.T, o *k8sObjects) {
	for _, w := range o.workloads() {
		where := w.kind + " " + w.name
		sel, err := metav1.LabelSelectorAsSelector(w.selector)
		if err != nil || sel.Empty() {
			t.Errorf("%s: selector %v: empty or invalid (%v)", where, w.selector, err)
		} else if !sel.Matches(labels.Set(w.template.Labels)) {
			t.Errorf("%s: selector %v does not match the pod labels %v (apps/v1 rejects it)", where, w.selector, w.template.Labels)
		}
		spec := w.template.Spec
		if sa := spec.ServiceAccountName; sa != "" && o.accounts[sa] == nil {
			t.Errorf("%s: service account %s does not exist", where, sa)
		}
		psc := spec.SecurityContext
		volumes := map[string]bool{}
		for _, v := range spec.Volumes {
			volumes[v.Name] = true
			if v.ConfigMap != nil && o.configMaps[v.ConfigMap.Name] == nil {
				t.Errorf("%s: volume %s mounts ConfigMap %s, which does not exist", where, v.Name, v.ConfigMap.Name)
			}
		}
		for _, c := range w.claims {
			volumes[c.Name] = true
		}
		for _, c := range spec.Containers {
			cw := where + " container " + c.Name
			if !pinnedImage.MatchString(c.Image) {
				t.Errorf("%s: image %q is not pinned to a version", cw, c.Image)
			}
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[res]; !ok {
					t.Errorf("%s has no %s request", cw, res)
				}
				if _, ok := c.Resources.Limits[res]; !ok {
					t.Errorf("%s has no %s limit", cw, res)
				}
			}
			// The traffic client serves nothing to probe.
			if c.Name != "traffic" {
				if c.ReadinessProbe == nil || c.LivenessProbe == nil {
					t.Errorf("%s lacks a readiness or a liveness probe", cw)
				}
				for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
					if p == nil {
						continue
					}
					var port *intstr.IntOrString
					if p.HTTPGet != nil {
						port = &p.HTTPGet.Port
					} else if p.TCPSocket != nil {
						port = &p.TCPSocket.Port
					}
					if port != nil && !containerHasPort(c, *port) {
						t.Errorf("%s: a probe uses port %s, which the container does not declare", cw, port)
					}
				}
			}
			sc := c.SecurityContext
			nonRoot := (sc != nil && sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) || (psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
			if !nonRoot {
				t.Errorf("%s may run as root: set runAsNonRoot", cw)
			}
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s: the root filesystem is writable", cw)
			}
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: privilege escalation is not turned off", cw)
			}
			if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("%s: capabilities are not all dropped", cw)
			}
			for _, m := range c.VolumeMounts {
				if !volumes[m.Name] {
					t.Errorf("%s mounts %s, which is no volume of the pod", cw, m.Name)
				}
			}
			checkEnv(t, cw, c, o)
		}
	}
}

func containerHasPort(c corev1.Container, port intstr.IntOrString) bool {
	for _, p := range c.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return true
		}
	}
	return false
}

// checkEnv: ConfigMaps read exist, and every $(VAR) in env and args is
// defined before it is used (Kubernetes leaves an undefined one as is).
func checkEnv(t *testing.T, where string, c corev1.Container, o *k8sObjects) {
	defined := map[string]bool{}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil {
			cm := o.configMaps[ef.ConfigMapRef.Name]
			if cm == nil {
				t.Errorf("%s reads ConfigMap %s, which does not exist", where, ef.ConfigMapRef.Name)
				continue
			}
			for k := range cm.Data {
				defined[k] = true
			}
		}
	}
	ref := regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	for _, e := range c.Env {
		for _, m := range ref.FindAllStringSubmatch(e.Value, -1) {
			if !defined[m[1]] {
				t.Errorf("%s: %s uses $(%s) before it is defined", where, e.Name, m[1])
			}
		}
		if e.Value != "" && e.ValueFrom != nil {
			t.Errorf("%s: %s has both a value and valueFrom", where, e.Name)
		}
		if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil && o.configMaps[e.ValueFrom.ConfigMapKeyRef.Name] == nil {
			t.Errorf("%s: %s reads ConfigMap %s, which does not exist", where, e.Name, e.ValueFrom.ConfigMapKeyRef.Name)
		}
		defined[e.Name] = true
	}
	for _, a := range append(slices.Clone(c.Command), c.Args...) {
		for _, m := range ref.FindAllStringSubmatch(a, -1) {
			if !defined[m[1]] {
				t.Errorf("%s: argument %q uses $(%s), which is not defined", where, a, m[1])
			}
		}
	}
}

// checkServices: every Service selects pods of a workload and sends each
// port to a port those pods declare.
func checkServices(t *testing.T, o *k8sObjects) {
	for _, s := range o.services {
		if len(s.Spec.Selector) == 0 {
			t.Errorf("Service %s selects no pods", s.Name)
			continue
		}
		sel := labels.SelectorFromSet(s.Spec.Selector)
		var matched []workload
		for _, w := range o.workloads() {
			if sel.Matches(labels.Set(w.template.Labels)) {
				matched = append(matched, w)
			}
		}
		if len(matched) == 0 {
			t.Errorf("Service %s selects %v: no workload's pods match", s.Name, s.Spec.Selector)
			continue
		}
		for _, p := range s.Spec.Ports {
			target := p.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(p.Port)
			}
			for _, w := range matched {
				found := false
				for _, c := range w.template.Spec.Containers {
					found = found || containerHasPort(c, target)
				}
				if !found {
					t.Errorf("Service %s port %s targets %s, which %s %s does not declare", s.Name, p.Name, target.String(), w.kind, w.name)
				}
			}
		}
	}
}

// checkCollector: the gateway Collector has its ConfigMap (the tested
// configuration, byte for byte), the contrib release the manifest builds,
// probes on the health check, a PodDisruptionBudget and an HPA on it.
func checkCollector(t *testing.T, o *k8sObjects) {
	var col *appsv1.Deployment
	for _, d := range o.deployments {
		if d.Name == "otel-collector" {
			col = d
		}
	}
	if col == nil {
		t.Fatal("no otel-collector Deployment")
	}
	want, err := os.ReadFile(collectorConfig)
	if err != nil {
		t.Fatal(err)
	}
	var cfgName string
	for _, v := range col.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			cfgName = v.ConfigMap.Name
		}
	}
	if cm := o.configMaps[cfgName]; cm == nil || cm.Data["config.yaml"] != string(want) {
		t.Errorf("the Collector's ConfigMap %q does not hold deploy/collector/config.yaml as it is: copy it to deploy/k8s/base/collector-config.yaml", cfgName)
	}
	_, m := loadCollector(t)
	c := col.Spec.Template.Spec.Containers[0]
	if img := "otel/opentelemetry-collector-contrib:" + m.Dist.Version; c.Image != img {
		t.Errorf("Collector image %s, want %s (the manifest's release)", c.Image, img)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Port.String() != "health" {
		t.Error("the Collector's readiness probe is not on its health_check endpoint")
	}
	podLabels := labels.Set(col.Spec.Template.Labels)
	var pdb, hpa bool
	for _, p := range o.pdbs {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(podLabels) {
			pdb = true
			if p.Spec.MinAvailable != nil && col.Spec.Replicas != nil && p.Spec.MinAvailable.IntValue() >= int(*col.Spec.Replicas) {
				t.Errorf("PodDisruptionBudget %s: minAvailable %s with %d replicas blocks every eviction", p.Name, p.Spec.MinAvailable, *col.Spec.Replicas)
			}
		}
	}
	for _, h := range o.hpas {
		ref := h.Spec.ScaleTargetRef
		if ref.Kind == "Deployment" && ref.Name == col.Name {
			hpa = true
			if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
				t.Errorf("HPA %s: minReplicas %v, maxReplicas %d", h.Name, h.Spec.MinReplicas, h.Spec.MaxReplicas)
			}
		} else {
			t.Errorf("HPA %s scales %s %s, which is not the Collector", h.Name, ref.Kind, ref.Name)
		}
	}
	if !pdb || !hpa {
		t.Errorf("the Collector has PodDisruptionBudget %t, HorizontalPodAutoscaler %t: want both", pdb, hpa)
	}
	for _, k := range []string{"JAEGER_OTLP_ENDPOINT", "TEMPO_OTLP_ENDPOINT", "LOKI_OTLP_ENDPOINT"} {
		found := false
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef != nil && o.configMaps[ef.ConfigMapRef.Name] != nil {
				_, found = o.configMaps[ef.ConfigMapRef.Name].Data[k]
			}
		}
		if !found {
			t.Errorf("the Collector's environment does not set %s", k)
		}
	}
	var ss *appsv1.StatefulSet
	for _, s := range o.statefulSets {
		if s.Name == "loupe" {
			ss = s
		}
	}
	if ss == nil || ss.Spec.Replicas == nil || *ss.Spec.Replicas != 1 || len(ss.Spec.VolumeClaimTemplates) != 1 {
		t.Error("loupe serve is not a single-replica StatefulSet with a volume")
	}
}

// checkDemoServices: each service of `loupe demo service` runs with its
// peers' addresses set (their defaults are loopback), exports to a Service
// of the overlay, and names its pod, namespace and node on its resource
// through the downward API.
func checkDemoServices(t *testing.T, o *k8sObjects) {
	services := map[string]*corev1.Service{}
	for _, s := range o.services {
		services[s.Name] = s
	}
	deployments := map[string]*appsv1.Deployment{}
	for _, d := range o.deployments {
		deployments[d.Name] = d
	}
	for _, svc := range demo.Services {
		d := deployments[svc.Name]
		if d == nil {
			t.Errorf("no Deployment %s", svc.Name)
			continue
		}
		c := d.Spec.Template.Spec.Containers[0]
		if !slices.Equal(c.Args, []string{"demo", "service", svc.Name}) {
			t.Errorf("%s runs %v", svc.Name, c.Args)
		}
		env := map[string]corev1.EnvVar{}
		for _, e := range c.Env {
			env[e.Name] = e
		}
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef != nil && o.configMaps[ef.ConfigMapRef.Name] != nil {
				for k, v := range o.configMaps[ef.ConfigMapRef.Name].Data {
					env[k] = corev1.EnvVar{Name: k, Value: v}
				}
			}
		}
		for _, v := range svc.Vars {
			e, set := env[v.Name]
			if strings.Contains(v.Default, "127.0.0.1") && !set {
				t.Errorf("%s: %s is not set, and its default %s is unreachable from another pod", svc.Name, v.Name, v.Default)
			}
			if set && strings.Contains(e.Value, "127.0.0.1") {
				t.Errorf("%s: %s=%s is loopback", svc.Name, v.Name, e.Value)
			}
		}
		if _, ok := services[svc.Name]; !ok {
			t.Errorf("no Service %s", svc.Name)
		}
		endpoint := env["OTEL_EXPORTER_OTLP_ENDPOINT"].Value
		if !serviceAddress(services, endpoint) {
			t.Errorf("%s exports to %q, which is no port of a Service of the overlay", svc.Name, endpoint)
		}
		for _, peer := range []string{"LLM_URL", "TTS_URL", "ORCHESTRATOR_URL", "REDIS_URL"} {
			if e, ok := env[peer]; ok && !serviceAddress(services, e.Value) {
				t.Errorf("%s: %s=%s is no port of a Service of the overlay", svc.Name, peer, e.Value)
			}
		}
		attrs := env["OTEL_RESOURCE_ATTRIBUTES"].Value
		for attr, field := range map[string]string{"k8s.pod.name": "metadata.name", "k8s.namespace.name": "metadata.namespace", "k8s.node.name": "spec.nodeName", "service.instance.id": "metadata.uid"} {
			m := regexp.MustCompile(regexp.QuoteMeta(attr) + `=\$\((\w+)\)`).FindStringSubmatch(attrs)
			if m == nil {
				t.Errorf("%s: OTEL_RESOURCE_ATTRIBUTES %q does not set %s from the downward API", svc.Name, attrs, attr)
				continue
			}
			if e := env[m[1]]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != field {
				t.Errorf("%s: %s is not the downward API's %s", svc.Name, m[1], field)
			}
		}
	}
}

// serviceAddress reports whether a URL or host:port names a port of one of
// the Services.
func serviceAddress(services map[string]*corev1.Service, addr string) bool {
	_, hostport, ok := strings.Cut(addr, "://")
	if !ok {
		hostport = addr
	}
	hostport, _, _ = strings.Cut(hostport, "/")
	host, port, ok := strings.Cut(hostport, ":")
	s := services[host]
	if !ok || s == nil {
		return false
	}
	for _, p := range s.Spec.Ports {
		if fmt.Sprint(p.Port) == port {
			return true
		}
	}
	return false
}

// TestKustomizeStrictDecodingRejects makes sure the strict decoding is no
// rubber stamp: a misspelt field is refused.
func TestKustomizeStrictDecodingRejects(t *testing.T) {
	bad := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n")
	if err := yaml.UnmarshalStrict(bad, &appsv1.Deployment{}); err == nil || !bytes.Contains([]byte(err.Error()), []byte("replica")) {
		t.Errorf("strict decoding accepted spec.replica: %v", err)
	}
}
