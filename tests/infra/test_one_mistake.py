"""Realistic stack files with one mistake each, as a person would make it in the shipped
examples: each must be rejected with one message that names the key as written (or, for a file
that is not a stack file, the line) and says the fix."""

from __future__ import annotations

import pytest

from infra import config
from infra.errors import ConfigError, key_path
from infra.stackfile import StackFileError, read_stack_config, to_engine_config
from tests.conftest import PROJECT

FILE = None  # the mistake is in the file itself: StackFileError

# (id, stack, text as shipped, text with the mistake, key of the one error, fragment of its message)
MISTAKES: list[tuple[str, str, str, str, object, str]] = [
    # Serverless (dev): provider keys, labels, storage.
    ("region typo", "dev", "gcp:region: us-central1", "gcp:region: us-centrl1", "gcp:region", "did you mean us-central1"),
    ("project in capitals", "dev", "gcp:project: acme-ml-dev", "gcp:project: Acme-ML-dev", "gcp:project",
     "is not a Google Cloud project ID"),
    ("environment spelt out", "dev", "mlinfra:environment: dev", "mlinfra:environment: development",
     "mlinfra:environment", "allowed: dev, staging, prod"),
    ("label value with a space", "dev", "team: ml-platform", "team: ML Platform", "mlinfra:labels.team",
     "label value is not valid"),
    ("unquoted number label", "dev", 'cost-center: "4711"', "cost-center: 4711", "mlinfra:labels.cost-center",
     "fix: quote the value"),
    ("environment label contradicting the stack", "dev", "    team: ml-platform\n",
     "    team: ml-platform\n    environment: production\n", "mlinfra:labels.environment", "is set by mlinfra to 'dev'"),
    ("days with a unit", "dev", "deleteAfterDays: 180", 'deleteAfterDays: "180 days"',
     "mlinfra:storage.dataLake.deleteAfterDays", "write a whole number"),
    ("singular keepVersion", "dev", "keepVersions: 3", "keepVersion: 3", "mlinfra:storage.artifacts.keepVersion",
     "did you mean mlinfra:storage.artifacts.keepVersions?"),
    # Serverless services.
    ("space after the tag colon", "dev", "churn:3", "churn: 3", FILE, "not valid YAML at line 20"),
    ("3 CPUs on Cloud Run", "dev", "resources: {cpu: 1, memory: 1Gi}", "resources: {cpu: 3, memory: 4Gi}",
     "mlinfra:services[0].resources.cpu", "allowed: 1, 2, 4, 6, 8"),
    ("GB for Gi", "dev", "resources: {cpu: 1, memory: 1Gi}", "resources: {cpu: 1, memory: 1GB}",
     "mlinfra:services[0].resources.memory", "is not a memory quantity"),
    ("zero max replicas", "dev", "maxReplicas: 5", "maxReplicas: 0", "mlinfra:services[0].scaling.maxReplicas",
     "allowed: at least 1"),
    ("invoker without its kind", "dev", "- serviceAccount:web-backend@", "- web-backend@",
     "mlinfra:services[0].invokers[0]", "has no member type prefix"),
    ("model in a bucket of another stack", "dev", "gs://acme-ml-dev-dev-artifacts/models/summarizer",
     "gs://acme-ml-dev-artifacts/models/summarizer", "mlinfra:services[1].model.uri",
     "allowed: gs://acme-ml-dev-dev-artifacts/<path>"),
    ("L4 with 8Gi", "dev", "resources: {cpu: 8, memory: 32Gi, gpu", "resources: {cpu: 8, memory: 8Gi, gpu",
     "mlinfra:services[1].resources.memory", "needs at least 16Gi"),
    ("T4 on Cloud Run", "dev", "gpu: {type: nvidia-l4, zonalRedundancy", "gpu: {type: nvidia-tesla-t4, zonalRedundancy",
     "mlinfra:services[1].resources.gpu.type", "allowed: nvidia-l4"),
    ("GPU replicas above quota", "dev", "scaling: {minReplicas: 0, maxReplicas: 2, concurrency: 8}",
     "scaling: {minReplicas: 0, maxReplicas: 6, concurrency: 8}", "mlinfra:services[1].scaling.maxReplicas",
     "is above the GPU quota (3 instances)"),
    ("a secret into PORT", "dev", "{env: HF_TOKEN, secret: hf-token}", "{env: PORT, secret: hf-token}",
     "mlinfra:services[1].secrets[0].env", "Cloud Run sets PORT itself"),
    ("canary of the stable version", "dev", 'canary: {version: "8", percent: 10}', 'canary: {version: "7", percent: 10}',
     "mlinfra:services[1].rollout.canary.version", "is the stable version itself"),
    ("canary percent over 100", "dev", 'canary: {version: "8", percent: 10}', 'canary: {version: "8", percent: 110}',
     "mlinfra:services[1].rollout.canary.percent", "allowed: at most 100"),
    # Serverless triggers.
    ("prefix written as a URL", "dev", "prefix: uploads/", "prefix: gs://acme-ml-dev-dev-data-lake/uploads/",
     "mlinfra:triggers[0].on.storage.prefix", "fix: write 'uploads/'"),
    ("bucket role in lower case", "dev", "bucket: dataLake", "bucket: datalake", "mlinfra:triggers[0].on.storage.bucket",
     "allowed: dataLake, artifacts"),
    ("cron with 4 fields", "dev", 'cron: "0 3 * * *"', 'cron: "0 3 * *"', "mlinfra:triggers[1].on.schedule.cron",
     "has 4 fields"),
    ("time zone typo", "dev", "timeZone: Europe/Berlin", "timeZone: Europe/Berln", "mlinfra:triggers[1].on.schedule.timeZone",
     "Europe/Berlin"),
    ("source with a dash", "dev", "source: functions/on_upload", "source: functions/on-upload", "mlinfra:triggers[0].source",
     "is not a directory of the project"),
    ("entry point main.py lacks", "dev", "source: functions/on_upload\n", "source: functions/on_upload\n      entryPoint: main\n",
     "mlinfra:triggers[0].entryPoint", "allowed: functions main.py defines: describe, describe_object, handle"),
    ("Eventarc storage events with a prefix", "dev", "storage: {bucket: dataLake, prefix: uploads/}",
     "storage: {bucket: dataLake, prefix: uploads/, delivery: eventarc}", "mlinfra:triggers[0].on.storage.prefix",
     "use delivery notification"),
    ("another bucket named without gs://", "dev", "storage: {bucket: dataLake, prefix: uploads/}",
     "storage: {bucket: partner-drops, prefix: uploads/}", "mlinfra:triggers[0].on.storage.bucket",
     "gs://<name>"),
    ("a tagged revision named stable", "dev", 'canary: {version: "8", percent: 10}',
     'canary: {version: "8", percent: 10}\n        tags: [{tag: stable, revision: summarizer-dev-v6-0a1b2c}]',
     "mlinfra:services[1].rollout.tags[0].tag", "the tag mlinfra gives the stable revision"),
    ("On for on", "dev", "      on:\n        storage", "      On:\n        storage", "mlinfra:triggers[0].On",
     "did you mean mlinfra:triggers[0].on?"),
    # The file itself.
    ("environment written twice", "dev", "mlinfra:environment: dev\n",
     "mlinfra:environment: dev\n  mlinfra:environment: prod\n", FILE, "at line 6 and line 7"),
    ("no config: wrapper", "dev", "config:\n", "", FILE, "add a line `config:` at the top"),
    ("a key appended outside config", "dev", 'timeZone: Europe/Berlin}\n', 'timeZone: Europe/Berlin}\nmlinfra:waivers: []\n',
     FILE, "mlinfra:waivers is beside `config:`"),
    ("tab indentation", "dev", "    team: ml-platform\n", "\tteam: ml-platform\n", FILE, "spaces, not tabs"),
    # Serverless (prod): network, storage lifecycle, a CPU and a GPU service, a Pub/Sub trigger, waivers.
    ("subnet with host bits", "prod", "subnetCidr: 10.30.0.0/20", "subnetCidr: 10.30.0.1/20", "mlinfra:network.subnetCidr",
     "fix: write the network address, e.g. 10.30.0.0/20"),
    ("services range inside the subnet", "prod", "servicesCidr: 10.44.0.0/20", "servicesCidr: 10.30.4.0/24",
     "mlinfra:network.servicesCidr", "overlaps subnetCidr"),
    ("coldline before nearline", "prod", "coldlineAfterDays: 120", "coldlineAfterDays: 20",
     "mlinfra:storage.dataLake.coldlineAfterDays", "later than nearlineAfterDays"),
    ("bucket name with capitals", "prod", "name: acme-ml-prod-model-artifacts", "name: Acme-ML-prod-model-artifacts",
     "mlinfra:storage.artifacts.name", "lowercase"),
    ("ingress typo", "prod", "ingress: internalAndLoadBalancer", "ingress: internalAndLoadbalancer",
     "mlinfra:services[0].ingress", "did you mean internalAndLoadBalancer?"),
    ("16Gi on 2 CPUs", "prod", "resources: {cpu: 4, memory: 8Gi}", "resources: {cpu: 2, memory: 16Gi}",
     "mlinfra:services[0].resources.cpu", "memory above 8Gi needs at least 4 CPUs"),
    ("GPU replicas above the raised quota", "prod", "maxReplicas: 6, concurrency: 16", "maxReplicas: 12, concurrency: 16",
     "mlinfra:services[1].scaling.maxReplicas", "is above the GPU quota (6 instances)"),
    ("topic starting with goog", "prod", "topic: retrain-requests", "topic: google-retrain-requests",
     "mlinfra:triggers[1].on.pubsub.topic", "goog"),
    ("function memory in GB", "prod", "memory: 512Mi\n", "memory: 512MB\n", "mlinfra:triggers[0].memory",
     "is not a memory quantity"),
    ("waiver of a rule that does not exist", "prod", "        pubsub: {topic: retrain-requests}\n",
     "        pubsub: {topic: retrain-requests}\n  mlinfra:waivers:\n    - {rule: MLI-GCP-999, reason: the vendor requires public access here}\n",
     "mlinfra:waivers[0].rule", "is not a guardrail rule"),
    ("waiver with a one-word reason", "prod", "        pubsub: {topic: retrain-requests}\n",
     "        pubsub: {topic: retrain-requests}\n  mlinfra:waivers:\n    - {rule: MLI-K8S-007, reason: legacy}\n",
     "mlinfra:waivers[0].reason", "at least 20"),
    # Kubernetes (prod): the cluster and its pools.
    ("a size n2 lacks", "k8s-prod", "machineType: n2-standard-8", "machineType: n2-standard-6",
     "mlinfra:cluster.nodePools[0].machineType", "n2-standard-8"),
    ("two L4s on g2-standard-8", "k8s-prod", "      - name: l4\n        machineType: g2-standard-8\n        gpu: {type: nvidia-l4, count: 1}",
     "      - name: l4\n        machineType: g2-standard-8\n        gpu: {type: nvidia-l4, count: 2}",
     "mlinfra:cluster.nodePools[1].gpu.count", "g2-standard-24 carries 2"),
    ("pool min above max", "k8s-prod", "autoscaling: {min: 1, max: 6}", "autoscaling: {min: 7, max: 6}",
     "mlinfra:cluster.nodePools[0].autoscaling.max", "is below autoscaling.min (7)"),
    ("release channel in lower case", "k8s-prod", "releaseChannel: STABLE", "releaseChannel: stable",
     "mlinfra:cluster.releaseChannel", "did you mean STABLE?"),
    ("authorized network with host bits", "k8s-prod", "cidr: 203.0.113.0/24", "cidr: 203.0.113.7/24",
     "mlinfra:cluster.authorizedNetworks[0].cidr", "host bits"),
    ("pool name with an underscore", "k8s-prod", "- name: spot-l4", "- name: spot_l4",
     "mlinfra:cluster.nodePools[2].name", "has a form that is not allowed"),
    ("private endpoint from outside the VPC", "k8s-prod", "    releaseChannel: STABLE\n",
     "    releaseChannel: STABLE\n    privateEndpoint: true\n", "mlinfra:cluster.privateEndpoint", "deployerInVpc: true"),
    ("pattern label", "k8s-prod", "    team: ml-platform\n", "    team: ml-platform\n    pattern: gke\n",
     "mlinfra:labels.pattern", "is set by mlinfra to 'kubernetes'"),
    # Kubernetes workloads.
    ("ranker memory above the node", "k8s-prod", "resources: {cpu: 4, memory: 16Gi, gpu", "resources: {cpu: 4, memory: 30Gi, gpu",
     "mlinfra:services[0].resources.memory", "offers pods 28.34Gi"),
    ("spot always", "k8s-prod", "placement: {spot: prefer}", "placement: {spot: always}",
     "mlinfra:services[0].placement.spot", "allowed: never, prefer, require"),
    ("Triton scaled on requests in flight", "k8s-prod", "metric: queueDepth, target: 10", "metric: requestsInFlight, target: 10",
     "mlinfra:services[0].scaling.metric", "runtime triton exports no requestsInFlight metric"),
    ("canary of the stable model", "k8s-prod", 'canary: {version: "13", percent: 10}', 'canary: {version: "12", percent: 10}',
     "mlinfra:services[0].rollout.canary.version", "is the stable version itself"),
    ("embedder on a whole node's CPUs", "k8s-prod", "resources: {cpu: 2, memory: 4Gi}", "resources: {cpu: 8, memory: 4Gi}",
     "mlinfra:services[1].resources.cpu", "n2-standard-8 (general) offers pods 7.91"),
    ("Sunday as 7", "k8s-prod", 'schedule: "0 4 * * 0"', 'schedule: "0 4 * * 7"', "mlinfra:jobs[0].schedule", "outside 0-6"),
    ("job on a GPU no pool has", "k8s-prod", "resources: {cpu: 7, memory: 26Gi, gpu: {type: nvidia-l4",
     "resources: {cpu: 7, memory: 26Gi, gpu: {type: nvidia-tesla-t4", "mlinfra:jobs[0].resources.gpu.type",
     "no node pool (nor auto-provisioning) offers this GPU"),
    ("job on all 8 CPUs of a g2-standard-8", "k8s-prod", "resources: {cpu: 7, memory: 26Gi", "resources: {cpu: 8, memory: 26Gi",
     "mlinfra:jobs[0].resources.cpu", "fix: set cpu to 7 or less"),
    # Kubernetes (dev).
    ("a zone the region lacks", "k8s-dev", "zone: us-central1-a", "zone: us-central1-q", "mlinfra:cluster.zone",
     "us-central1-a"),
    ("on-demand only with only spot L4s", "k8s-dev", "placement: {spot: require}", "placement: {spot: never}",
     "mlinfra:services[0].placement.spot", "no on-demand node pool has nvidia-l4 GPUs"),
    ("two GPUs per pod on one-GPU nodes", "k8s-dev", "gpu: {type: nvidia-l4, count: 1}}\n      scaling",
     "gpu: {type: nvidia-l4, count: 2}}\n      scaling", "mlinfra:services[0].resources.gpu.count",
     "no node pool this pod may run on has 2 nvidia-l4 GPUs"),
    ("batch job above an e2-standard-4", "k8s-dev", "resources: {cpu: 2, memory: 8Gi}", "resources: {cpu: 2, memory: 16Gi}",
     "mlinfra:jobs[0].resources.memory", "e2-standard-4 (general) offers pods 13.3Gi"),
    ("a Cloud Run service in a GKE stack", "k8s-dev", "    - name: summarizer\n", "    - name: summarizer\n      platform: cloudrun\n",
     "mlinfra:services[0].platform", "use the serverless or hybrid pattern for cloudrun"),
    ("clusters for cluster", "k8s-dev", "mlinfra:cluster:", "mlinfra:clusters:", "mlinfra:clusters",
     "did you mean mlinfra:cluster?"),
    ("pods range too small", "k8s-dev", "podsCidr: 10.52.0.0/14", "podsCidr: 10.52.0.0/24", "mlinfra:network.podsCidr",
     "at least a /21"),
    ("vLLM left at the default memory", "k8s-dev", "resources: {cpu: 4, memory: 16Gi, gpu: {type: nvidia-l4, count: 1}}",
     "resources: {gpu: {type: nvidia-l4, count: 1}}", "mlinfra:services[0].resources.memory",
     "cannot run in the default 2Gi"),
    ("KV-cache target as a percent", "k8s-dev", "metric: kvCacheUsage, target: 0.8", "metric: kvCacheUsage, target: 80",
     "mlinfra:services[0].scaling.target", "is a fraction for kvCacheUsage"),
    ("fractional queue target", "k8s-dev", "metric: kvCacheUsage, target: 0.8", "metric: queueDepth, target: 2.5",
     "mlinfra:services[0].scaling.target", "a whole number"),
    ("pool name typed twice", "k8s-dev", "      - name: spot-l4\n", "      - name: general\n", "mlinfra:cluster.nodePools[1].name",
     "is also the name of nodePools[0]"),
    # EKS (prod): alerts and objectives.
    ("webhook over plain HTTP", "eks-prod", "httpsEndpoints: [https://events.pagerduty.com",
     "httpsEndpoints: [http://events.pagerduty.com", "mlinfra:alerts.httpsEndpoints[0]", "fix: use the endpoint's https:// URL"),
    ("Google Cloud channels on AWS", "eks-prod", "    emails: [ml-oncall@acme.example]\n    httpsEndpoints",
     "    channels: [projects/acme-ml-prod/notificationChannels/42]\n    httpsEndpoints", "mlinfra:alerts.channels",
     "is a Google Cloud key"),
    ("latency threshold in seconds", "eks-prod", "latency: {thresholdMs: 50, percent: 99}",
     "latency: {threshold: 0.05, percent: 99}", "mlinfra:services[0].slo.latency.threshold", "fix: rename it to thresholdMs"),
    # Self-healing rollouts (hybrid, prod).
    ("autoRollback spelt with a capital B", "hybrid-prod", "rollout: {autoRollback: true}", "rollout: {autoRollBack: true}",
     "mlinfra:services[0].rollout.autoRollBack", "did you mean mlinfra:services[0].rollout.autoRollback?"),
    ("autoRollback without the trigger that holds the repository", "hybrid-prod",
     "      run:\n        proposeRollout:\n          service: ranker\n          repository: acme/ml-platform\n",
     "      run: {job: retrain-ranker}\n", "mlinfra:services[0].rollout.autoRollback",
     "add a trigger with `run: {proposeRollout: {service: ranker"),
]


def outcome(tmp_path, stack: str, old: str, new: str) -> list[tuple[str, str]]:
    text = PROJECT.stack_file(stack).read_text()
    assert text.count(old) == 1, f"{old!r} is not in {stack} exactly once"
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(text.replace(old, new))
    try:
        values, _ = to_engine_config(read_stack_config(path, f"stacks/Pulumi.{stack}.yaml"))
        config.load(values, stack=stack, file=f"stacks/Pulumi.{stack}.yaml", root=PROJECT.root)
    except StackFileError as error:
        return [("<file>", str(error))]
    except ConfigError as error:
        return [(key_path(i.path), str(error)) for i in error.issues]
    return []


@pytest.mark.parametrize("stack,old,new,key,fragment", [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_one_mistake_gets_one_message_naming_the_key_and_the_fix(tmp_path, stack, old, new, key, fragment):
    found = outcome(tmp_path, stack, old, new)
    assert len(found) == 1, f"expected one error, got {[p for p, _ in found]}"
    path, text = found[0]
    assert path == (key if key is not FILE else "<file>"), path
    assert fragment in text, text
    assert "fix" in text.lower()


def test_there_are_at_least_40_mistakes_across_every_section():
    sections = {str(m[4]).split(".")[0].split("[")[0] for m in MISTAKES}
    assert len(MISTAKES) >= 40
    assert {"gcp:region", "gcp:project", "mlinfra:environment", "mlinfra:labels", "mlinfra:storage", "mlinfra:network",
            "mlinfra:services", "mlinfra:triggers", "mlinfra:cluster", "mlinfra:jobs", "None"} <= sections
