"""GKE: clusters, node pools, GPUs, model servers, jobs and the custom metrics adapter."""
