"""Stack files generated at bench time, to measure how the plan's cost grows with its size.

`write_project(directory, {"gen-100": 20, ...})` makes a project directory whose Pulumi.yaml
points at this repository's program (infra/) and whose stack files each hold that many
serverless model servers (about five resources each, beside the stack's fixed ~25: network,
buckets, image repository, enabled APIs). Nothing is written into stacks/.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Serving shapes cycled through the generated services, so the stack exercises the same
# component branches a real one does (model-in-image, model-loading, GPU, canary, secrets).
_SHAPES = [
    lambda i, bucket: {"image": f"us-central1-docker.pkg.dev/acme-ml-bench/mlinfra-bench/model-{i}:3",
                       "resources": {"cpu": 1, "memory": "1Gi"},
                       "scaling": {"minReplicas": 0, "maxReplicas": 5, "concurrency": 40},
                       "invokers": [f"serviceAccount:caller-{i}@acme-ml-bench.iam.gserviceaccount.com"]},
    lambda i, bucket: {"runtime": "tfserving",
                       "model": {"uri": f"gs://{bucket}/models/m{i}", "version": "4"},
                       "resources": {"cpu": 2, "memory": "4Gi"},
                       "scaling": {"minReplicas": 0, "maxReplicas": 3},
                       "secrets": [{"env": "API_KEY", "secret": f"api-key-{i}"}],
                       "invokers": ["group:ml-engineers@acme.example"]},
    lambda i, bucket: {"runtime": "vllm",
                       "model": {"uri": f"gs://{bucket}/models/m{i}", "version": "7"},
                       "resources": {"cpu": 8, "memory": "32Gi", "gpu": {"type": "nvidia-l4", "zonalRedundancy": False}},
                       "scaling": {"minReplicas": 0, "maxReplicas": 1, "concurrency": 8},
                       "invokers": ["group:ml-engineers@acme.example"],
                       "rollout": {"canary": {"version": "8", "percent": 10}}},
]


def stack_config(services: int, stack: str) -> dict:
    """The `config:` of a serverless stack with `services` model servers."""
    project = "acme-ml-bench"
    bucket = f"{project}-{stack}-artifacts"
    return {
        "gcp:project": project,
        "gcp:region": "us-central1",
        "mlinfra:pattern": "serverless",
        "mlinfra:environment": "dev",
        "mlinfra:labels": {"team": "ml-platform", "cost-center": "4711"},
        "mlinfra:storage": {"artifacts": {"name": bucket}},
        "mlinfra:services": [{"name": f"model-{i:04d}", **_SHAPES[i % len(_SHAPES)](i, bucket)}
                             for i in range(services)],
    }


def write_project(directory: Path, stacks: dict[str, int]) -> Path:
    """A project in `directory` running this repository's program, with one generated stack
    file per entry of `stacks` (name -> number of services); returns the directory."""
    project = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())
    project["main"] = str(PROJECT_ROOT / "infra")  # the real program, not a copy
    project["stackConfigDir"] = "stacks"
    (directory / "stacks").mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    # Function sources are read relative to the project root.
    if not (directory / "functions").exists():
        os.symlink(PROJECT_ROOT / "functions", directory / "functions")
    for name, services in stacks.items():
        text = yaml.safe_dump({"config": stack_config(services, name)}, sort_keys=False)
        (directory / "stacks" / f"Pulumi.{name}.yaml").write_text(text)
    return directory
