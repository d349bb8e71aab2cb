// Package deployments holds no code. Its tests validate the deployment
// files (docker-compose.yml, Dockerfiles, Kubernetes manifests, Prometheus
// and Grafana configuration), which nothing in CI runs: they parse each
// file and check it against the environment variables and metrics the
// services really have.
package deployments
