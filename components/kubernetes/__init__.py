"""Kubernetes workloads on any cluster: pods, per-track serving objects and jobs. No cloud imports."""
