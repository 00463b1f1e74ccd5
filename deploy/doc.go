// Package deploy holds the production stack of the demo platform — the
// OpenTelemetry Collector's configuration and the manifest of the
// distribution it runs on, Prometheus' configuration and rules, the compose
// file, Grafana's provisioning and the Kubernetes manifests — and, in its
// tests, the checks that the real tools make of them: the Collector's own
// validate command, promtool, docker-compose config, Prometheus' PromQL
// parser, kustomize and the k8s.io/api types. TestEndToEnd runs the stack
// for real on loopback: `loupe demo` through the Collector built from the
// manifest, on its configuration, into Jaeger v2, Prometheus with its rules
// and `loupe serve`, each checked through its own API.
//
// The tools are installed by scripts/install-deploy-tools (Jaeger v2 by
// scripts/install-peers). Under CI=true a
// missing tool fails the tests that need it; elsewhere they are skipped with
// the reason. See README.md in this directory for what runs where.
package deploy
