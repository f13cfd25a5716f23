"""Reusable Pulumi components for ML systems, by cloud and service.

core/        the component and spec bases, issues, naming, units, labels
serving/     the platform-neutral model-serving vocabulary: model, runtimes, rollout, probes
kubernetes/  pods, per-track serving objects and jobs on any Kubernetes cluster (no cloud imports)
gcp/         Google Cloud: one folder per service (cloudrun, functions, gke, storage, ...)
aws/         Amazon Web Services

Spec modules import no provider package; component modules import only the provider
submodules they use, so a program pays only for the pattern it builds.
"""
