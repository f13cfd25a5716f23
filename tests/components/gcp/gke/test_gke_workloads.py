"""Model servers, jobs and the metrics adapter on GKE: exact pod specs, scaling, traffic and rules."""

from __future__ import annotations

from typing import Any, Optional

import kubernetes_validate
import pulumi_kubernetes as k8s
import pytest

from components.core.issues import InputError
from components.core.spec import Context, validate
from components.gcp.gke.gcs_fuse import gcs_fuse_volume
from components.gcp.gke.gke_job import GkeJob, GkeJobArgs
from components.gcp.gke.gke_job_spec import GkeJobSpec
from components.gcp.gke.gke_metrics_adapter import ADAPTER_IMAGE, GkeMetricsAdapter, GkeMetricsAdapterArgs
from components.gcp.gke.gke_model_server import GkeModelServer, GkeModelServerArgs
from components.gcp.gke.gke_service_spec import GkeServiceSpec
from components.gcp.gke.node_labels import GKE_NODES
from components.gcp.storage.bucket import Bucket, BucketArgs
from components.core import schedules
from components.kubernetes.pods import PlacementSpec, PodGpuSpec, restricted_security, scheduling
from components.kubernetes.serving import track_replicas


def gke_service_issues(spec):
    return validate(spec, Context())


def cron_issues(schedule):
    return schedules.cron_issues(schedule, "kubernetes")


def gke_job_issues(spec):
    return validate(spec, Context())
from tests.conftest import run_component

POOL = "acme-test.svc.id.goog"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
WI = "gcp:serviceaccount/iAMMember:IAMMember"
# Custom resources kubernetes-validate has no schema for; their fields are asserted exactly instead.
CUSTOM_KINDS = {"PodMonitoring", "HTTPRoute", "HealthCheckPolicy"}

LLM = {
    "name": "llm", "runtime": "vllm", "model": {"uri": "gs://art/models/llm", "version": "7"},
    "resources": {"cpu": 8, "memory": "32Gi", "gpu": {"type": "nvidia-l4", "count": 1}},
    "scaling": {"minReplicas": 2, "maxReplicas": 10, "metric": "queueDepth"},
    "placement": {"spot": "prefer"},
    "rollout": {"canary": {"version": "8", "percent": 10}},
}

POD_SECURITY = {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
                "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "privileged": False,
                      "readOnlyRootFilesystem": True}
NO_SPOT = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
    {"key": "cloud.google.com/gke-spot", "operator": "NotIn", "values": ["true"]},
    {"key": "cloud.google.com/gke-preemptible", "operator": "NotIn", "values": ["true"]}]}]}}}
PREFER_SPOT = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "preference": {
    "matchExpressions": [{"key": "cloud.google.com/gke-spot", "operator": "In", "values": ["true"]}]}}]}}
REQUIRE_SPOT = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "cloud.google.com/gke-spot", "operator": "In", "values": ["true"]}]}]}}}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
SPOT_TOLERATION = {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}


def spec_of(**changes: Any) -> GkeServiceSpec:
    return GkeServiceSpec.model_validate({**LLM, **changes})


def serve(spec: GkeServiceSpec, gateway: Optional[tuple[str, str]] = ("gw", "mlinfra-gateway"), **extra):
    def program():
        provider = k8s.Provider("k8s", kubeconfig="{}")
        art = Bucket("art", BucketArgs(name="art", location="US"))
        GkeModelServer("srv", GkeModelServerArgs(
            spec=spec, project="acme-test", namespace="mlinfra-llm", provider=provider, workload_pool=POOL,
            environment="dev", model_bucket=art, gateway=gateway, **extra))
    return run_component(program)


def run_job(spec: dict):
    def program():
        provider = k8s.Provider("k8s", kubeconfig="{}")
        lake = Bucket("lake", BucketArgs(name="lake", location="US"))
        art = Bucket("art", BucketArgs(name="art", location="US"))
        GkeJob("train", GkeJobArgs(spec=GkeJobSpec.model_validate(spec), project="acme-test", namespace="mlinfra-jobs",
                                   provider=provider, workload_pool=POOL, read_buckets=[lake], write_buckets=[art]))
    return run_component(program)


def pod(rec, name: str) -> dict:
    return rec.one(DEPLOYMENT, name).inputs["spec"]["template"]["spec"]


def test_placement_renders_to_exact_tolerations_and_node_affinity():
    assert scheduling(PlacementSpec(spot="never"), None, GKE_NODES) == {"affinity": NO_SPOT}
    assert scheduling(PlacementSpec(spot="prefer"), None, GKE_NODES) == {"tolerations": [SPOT_TOLERATION], "affinity": PREFER_SPOT}
    assert scheduling(PlacementSpec(spot="require"), None, GKE_NODES) == {"tolerations": [SPOT_TOLERATION], "affinity": REQUIRE_SPOT}
    assert scheduling(PlacementSpec(), PodGpuSpec(type="nvidia-l4", count=2), GKE_NODES) == {
        "nodeSelector": {"cloud.google.com/gke-accelerator": "nvidia-l4"}, "tolerations": [GPU_TOLERATION],
        "affinity": NO_SPOT}


def test_restricted_security_and_the_fuse_volume_are_exact():
    assert restricted_security(read_only_root=False) == (POD_SECURITY, {**CONTAINER_SECURITY, "readOnlyRootFilesystem": False})
    assert gcs_fuse_volume("art", "models/llm/7") == (
        {"name": "model", "csi": {"driver": "gcsfuse.csi.storage.gke.io", "readOnly": True, "volumeAttributes": {
            "bucketName": "art", "mountOptions": "only-dir=models/llm/7,implicit-dirs"}}},
        {"gke-gcsfuse/volumes": "true", "gke-gcsfuse/cpu-limit": "0", "gke-gcsfuse/memory-limit": "0", "gke-gcsfuse/ephemeral-storage-limit": "0"})


def test_vllm_server_runs_restricted_on_a_spot_l4_with_the_model_mounted_read_only():
    rec = serve(spec_of())
    stable, canary = pod(rec, "srv-stable"), pod(rec, "srv-canary")
    assert stable["securityContext"] == POD_SECURITY
    assert stable["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert stable["tolerations"] == [GPU_TOLERATION, SPOT_TOLERATION]
    assert stable["affinity"] == PREFER_SPOT
    assert (stable["serviceAccountName"], stable["automountServiceAccountToken"]) == ("llm", False)
    assert stable["volumes"] == [
        {"name": "model", "csi": {"driver": "gcsfuse.csi.storage.gke.io", "readOnly": True, "volumeAttributes": {
            "bucketName": "art", "mountOptions": "only-dir=models/llm/7,implicit-dirs"}}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        {"name": "cache", "emptyDir": {"sizeLimit": "8Gi"}},
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}}]
    assert canary["volumes"][0]["csi"]["volumeAttributes"]["mountOptions"] == "only-dir=models/llm/8,implicit-dirs"
    template = rec.one(DEPLOYMENT, "srv-stable").inputs["spec"]["template"]
    assert template["metadata"]["annotations"] == {"gke-gcsfuse/volumes": "true", "gke-gcsfuse/cpu-limit": "0", "gke-gcsfuse/memory-limit": "0", "gke-gcsfuse/ephemeral-storage-limit": "0"}
    assert template["metadata"]["labels"] == {
        "app.kubernetes.io/name": "llm", "app.kubernetes.io/part-of": "mlinfra", "app.kubernetes.io/component": "model-server",
        "mlinfra.dev/track": "stable", "mlinfra.dev/environment": "dev", "mlinfra.dev/model-version": "7"}
    container = stable["containers"][0]
    assert container["securityContext"] == CONTAINER_SECURITY
    assert container["resources"] == {"requests": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"},
                                      "limits": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "1"}}
    assert container["volumeMounts"] == [{"name": "model", "mountPath": "/models/llm/7", "readOnly": True},
                                         {"name": "tmp", "mountPath": "/tmp"}, {"name": "cache", "mountPath": "/cache"},
                                         {"name": "shm", "mountPath": "/dev/shm"}]
    assert container["env"] == [{"name": "HOME", "value": "/cache"}, {"name": "XDG_CACHE_HOME", "value": "/cache"},
                                {"name": "MODEL_NAME", "value": "llm"}, {"name": "MODEL_VERSION", "value": "7"},
                                {"name": "MODEL_DIR", "value": "/models/llm/7"}]
    assert container["args"] == ["--model", "/models/llm/7", "--served-model-name", "llm", "--port", "8000"]
    assert container["startupProbe"] == {"httpGet": {"path": "/health", "port": "http"}, "initialDelaySeconds": 0,
                                         "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 60}
    assert container["readinessProbe"]["failureThreshold"] == container["livenessProbe"]["failureThreshold"] == 3
    assert "replicas" not in rec.one(DEPLOYMENT, "srv-stable").inputs["spec"], "the HPA owns the replica count"
    assert rec.one(DEPLOYMENT, "srv-stable").inputs["spec"]["strategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def test_a_cpu_server_never_lands_on_spot_and_probes_tcp_without_health_endpoints():
    rec = serve(GkeServiceSpec.model_validate({"name": "web", "image": "x/web:1"}), gateway=None)
    spec = pod(rec, "srv-stable")
    assert spec["affinity"] == NO_SPOT
    assert "tolerations" not in spec and "nodeSelector" not in spec
    container = spec["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}
    assert container["livenessProbe"]["tcpSocket"] == {"port": "http"}
    assert "annotations" not in rec.one(DEPLOYMENT, "srv-stable").inputs["spec"]["template"]["metadata"]
    assert [v["name"] for v in spec["volumes"]] == ["tmp"]
    assert rec.of_type(ROUTE) == [] and rec.of_type("kubernetes:networking.gke.io/v1:HealthCheckPolicy") == []
    assert rec.of_type("kubernetes:monitoring.googleapis.com/v1:PodMonitoring") == [], "no metrics port, no scrape"


def test_require_spot_pins_pods_to_spot_nodes():
    rec = serve(spec_of(placement={"spot": "require"}))
    assert pod(rec, "srv-stable")["affinity"] == REQUIRE_SPOT


def test_hpa_follows_the_vllm_queue_per_pod_with_replicas_split_by_traffic():
    rec = serve(spec_of())
    stable, canary = rec.one(HPA, "srv-stable-hpa").inputs["spec"], rec.one(HPA, "srv-canary-hpa").inputs["spec"]
    assert stable["metrics"] == [{"type": "Pods", "pods": {
        "metric": {"name": "prometheus.googleapis.com|vllm:num_requests_waiting|gauge"},
        "target": {"type": "AverageValue", "averageValue": "5"}}}]
    assert stable["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm-stable"}
    assert (stable["minReplicas"], stable["maxReplicas"], canary["minReplicas"], canary["maxReplicas"]) == (2, 9, 1, 1)
    monitor = rec.one("kubernetes:monitoring.googleapis.com/v1:PodMonitoring").inputs
    assert monitor["spec"] == {"selector": {"matchLabels": {"app.kubernetes.io/name": "llm"}},
                               "endpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}]}


def test_hpa_on_cpu_holds_utilization_of_the_request():
    rec = serve(spec_of(scaling={"maxReplicas": 3}, rollout={}))
    hpa = rec.one(HPA).inputs["spec"]
    assert hpa["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 3)


def test_requests_in_flight_and_triton_queue_name_their_own_gauges():
    rec = serve(spec_of(scaling={"metric": "requestsInFlight", "target": 24}, rollout={}))
    assert rec.one(HPA).inputs["spec"]["metrics"][0]["pods"] == {
        "metric": {"name": "prometheus.googleapis.com|vllm:num_requests_running|gauge"},
        "target": {"type": "AverageValue", "averageValue": "24"}}
    rec = serve(spec_of(runtime="triton", scaling={"metric": "queueDepth"}, rollout={}))
    assert rec.one(HPA).inputs["spec"]["metrics"][0]["pods"]["metric"]["name"] == \
        "prometheus.googleapis.com|nv_inference_pending_request_count|gauge"
    monitor = rec.one("kubernetes:monitoring.googleapis.com/v1:PodMonitoring").inputs["spec"]
    assert monitor["endpoints"][0]["port"] == "metrics"
    assert pod(rec, "srv-stable")["containers"][0]["ports"] == [
        {"name": "http", "containerPort": 8000, "protocol": "TCP"}, {"name": "metrics", "containerPort": 8002, "protocol": "TCP"}]


def test_kv_cache_usage_scales_on_the_gauge_the_pinned_vllm_exports_with_a_fractional_target():
    rec = serve(spec_of(scaling={"metric": "kvCacheUsage", "target": 0.75}, rollout={}))
    assert rec.one(HPA).inputs["spec"]["metrics"] == [{"type": "Pods", "pods": {
        "metric": {"name": "prometheus.googleapis.com|vllm:gpu_cache_usage_perc|gauge"},
        "target": {"type": "AverageValue", "averageValue": "750m"}}}]
    # The default target is 0.8, in the API server's canonical form (no diff after it stores it).
    rec = serve(spec_of(scaling={"metric": "kvCacheUsage"}, rollout={}))
    assert rec.one(HPA).inputs["spec"]["metrics"][0]["pods"]["target"] == {"type": "AverageValue", "averageValue": "800m"}
    assert serve(spec_of(scaling={"metric": "kvCacheUsage", "target": 1}, rollout={})).one(HPA).inputs[
        "spec"]["metrics"][0]["pods"]["target"]["averageValue"] == "1"
    # vLLM 0.9 and later (your own image) export the gauge under its new name.
    rec = serve(spec_of(image="vllm/vllm-openai:v0.10.1", rollout={},
                        scaling={"metric": "kvCacheUsage", "prometheusMetric": "vllm:kv_cache_usage_perc"}))
    assert rec.one(HPA).inputs["spec"]["metrics"][0]["pods"]["metric"]["name"] == \
        "prometheus.googleapis.com|vllm:kv_cache_usage_perc|gauge"


@pytest.mark.parametrize("scaling, message", [
    ({"metric": "kvCacheUsage", "target": 80}, "is a fraction for kvCacheUsage"),
    ({"metric": "kvCacheUsage", "target": 0}, "is a fraction for kvCacheUsage"),
    ({"metric": "kvCacheUsage", "target": -0.5}, "is a fraction for kvCacheUsage"),
    ({"metric": "kvCacheUsage", "target": 0.8125}, "has more than three decimals"),
    ({"metric": "queueDepth", "target": 2.5}, "a number of requests per pod for queueDepth: a whole number"),
    ({"metric": "requestsInFlight", "target": 0}, "a number of requests per pod for requestsInFlight"),
    ({"metric": "requestsInFlight", "target": 200000}, "a number of requests per pod"),
    ({"metric": "cpu", "target": 0.7}, "CPU utilization percent"),
])
def test_a_target_must_fit_its_metric(scaling, message):
    found = issue_messages(scaling=scaling, rollout={})
    assert message in found["scaling.target"], found


def test_kv_cache_usage_is_vllms_alone_and_the_preset_names_its_gauge():
    found = issue_messages(runtime="triton", scaling={"metric": "kvCacheUsage"}, rollout={})
    assert found["scaling.metric"] == "runtime triton exports no kvCacheUsage metric"
    found = issue_messages(scaling={"metric": "kvCacheUsage", "prometheusMetric": "vllm:kv_cache_usage_perc"}, rollout={})
    assert "has its own kvCacheUsage metric (vllm:gpu_cache_usage_perc)" in found["scaling.prometheusMetric"]
    assert gke_service_issues(spec_of(scaling={"metric": "kvCacheUsage", "target": 0.875}, rollout={})) == []
    # A quoted number or true is not a target (pydantic names scaling.target).
    for bad in ("0.8", True):
        with pytest.raises(ValueError, match="scaling.target"):
            GkeServiceSpec.model_validate({**LLM, "scaling": {"metric": "kvCacheUsage", "target": bad}})


@pytest.mark.parametrize("memory, shm", [("32Gi", "8Gi"), ("26Gi", "6656Mi"), ("3Gi", "1Gi")])
def test_shared_memory_is_a_quarter_of_the_pod_and_at_least_1gi(memory, shm):
    resources = {**LLM["resources"], "memory": memory}
    volumes = {v["name"]: v for v in pod(serve(spec_of(resources=resources)), "srv-stable")["volumes"]}
    assert volumes["shm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": shm}


def test_vllm_shards_the_model_over_every_gpu_of_the_pod():
    two = {**LLM["resources"], "gpu": {"type": "nvidia-l4", "count": 2}}
    args = pod(serve(spec_of(resources=two)), "srv-stable")["containers"][0]["args"]
    assert args[-2:] == ["--tensor-parallel-size", "2"]
    assert "--tensor-parallel-size" not in pod(serve(spec_of()), "srv-stable")["containers"][0]["args"]
    assert pod(serve(spec_of(resources=two, args=["--model", "/m"])), "srv-stable")["containers"][0]["args"] == ["--model", "/m"]


def test_pdb_lets_one_pod_go_at_a_time_and_never_blocks_a_drain_of_a_single_replica_track():
    rec = serve(spec_of())
    assert rec.one(PDB, "srv-stable-pdb").inputs["spec"] == {
        "maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "llm", "mlinfra.dev/track": "stable"}},
        "unhealthyPodEvictionPolicy": "AlwaysAllow"}
    # The canary track runs one replica: `minAvailable: 1` would block every node drain for GKE's
    # 1-hour PDB timeout; one pod may go instead.
    assert rec.one(PDB, "srv-canary-pdb").inputs["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in rec.one(PDB, "srv-canary-pdb").inputs["spec"]


def test_network_policy_admits_the_namespace_the_gateway_and_google_ranges_and_scrapes_from_gmp():
    rec = serve(spec_of(runtime="triton", scaling={"metric": "queueDepth"}, rollout={}))
    assert rec.one(NETPOL).inputs["spec"] == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "llm"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {"ports": [{"protocol": "TCP", "port": 8000}], "from": [
                {"podSelector": {}},
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mlinfra-gateway"}}},
                {"ipBlock": {"cidr": "35.191.0.0/16"}}, {"ipBlock": {"cidr": "130.211.0.0/22"}}]},
            {"ports": [{"protocol": "TCP", "port": 8002}], "from": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gmp-system"}}}]}]}


def test_route_splits_traffic_ninety_ten_with_a_canary_and_sends_all_to_stable_without():
    rec = serve(spec_of())
    route = rec.one(ROUTE).inputs
    assert route["metadata"]["namespace"] == "mlinfra-llm"
    assert route["spec"] == {"parentRefs": [{"name": "gw", "namespace": "mlinfra-gateway"}], "rules": [{"backendRefs": [
        {"name": "llm-stable", "port": 80, "weight": 90}, {"name": "llm-canary", "port": 80, "weight": 10}]}]}
    assert {r.name for r in rec.of_type(DEPLOYMENT)} == {"srv-stable", "srv-canary"}
    rec = serve(spec_of(rollout={}), hostnames=["llm.acme.example"], path_prefix="/llm")
    assert rec.one(ROUTE).inputs["spec"] == {
        "parentRefs": [{"name": "gw", "namespace": "mlinfra-gateway"}], "hostnames": ["llm.acme.example"],
        "rules": [{"backendRefs": [{"name": "llm-stable", "port": 80, "weight": 100}],
                   "matches": [{"path": {"type": "PathPrefix", "value": "/llm"}}],
                   "filters": [{"type": "URLRewrite", "urlRewrite": {
                       "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}]}]}
    assert [r.name for r in rec.of_type(DEPLOYMENT)] == ["srv-stable"]
    check = rec.one("kubernetes:networking.gke.io/v1:HealthCheckPolicy").inputs["spec"]
    assert check == {"default": {"config": {"type": "HTTP", "httpHealthCheck": {"port": 8000, "requestPath": "/health"}}},
                     "targetRef": {"group": "", "kind": "Service", "name": "llm-stable"}}


def test_replicas_split_by_percent_keep_each_track_at_least_one():
    assert track_replicas(spec_of(scaling={"minReplicas": 1, "maxReplicas": 5})) == {"stable": (1, 5), "canary": (1, 1)}
    assert track_replicas(spec_of(rollout={"canary": {"version": "8", "percent": 50}},
                                  scaling={"minReplicas": 4, "maxReplicas": 10})) == {"stable": (2, 5), "canary": (2, 5)}


def test_identity_reads_only_the_model_bucket_through_workload_identity():
    rec = serve(spec_of())
    wi = rec.one(WI)
    assert (wi.inputs["role"], wi.inputs["member"]) == (
        "roles/iam.workloadIdentityUser", "serviceAccount:acme-test.svc.id.goog[mlinfra-llm/llm]")
    assert wi.inputs["serviceAccountId"] == "projects/acme-test/serviceAccounts/srv-sa@acme-test.iam.gserviceaccount.com"
    read = rec.one("gcp:storage/bucketIAMMember:BucketIAMMember")
    assert (read.inputs["bucket"], read.inputs["role"], read.inputs["member"]) == (
        "art", "roles/storage.objectViewer", "serviceAccount:srv-sa@acme-test.iam.gserviceaccount.com")
    ksa = rec.one("kubernetes:core/v1:ServiceAccount").inputs
    assert ksa["metadata"]["annotations"] == {"iam.gke.io/gcp-service-account": "srv-sa@acme-test.iam.gserviceaccount.com"}
    ns = rec.one("kubernetes:core/v1:Namespace").inputs["metadata"]
    assert ns["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    deployment = rec.one(DEPLOYMENT, "srv-stable")
    assert {read.urn, wi.urn} <= set(deployment.dependencies), "pods start once they may read their model"


def test_every_child_is_parented_to_the_model_server_and_k8s_objects_use_the_given_provider():
    rec = serve(spec_of())
    server = rec.one("mlinfra:gcp:GkeModelServer")
    inside = {r.urn for r in rec.descendants_of(server)}
    kube = [r for r in rec.custom() if r.type.startswith("kubernetes:")]
    assert kube and all(r.urn in inside for r in kube)
    assert all("pulumi:providers:kubernetes::k8s" in r.provider for r in kube)
    assert rec.one(WI).urn in inside


def validate_all(rec) -> list[str]:
    """Validate every rendered Kubernetes object against the 1.33 schemas (strict); return the
    kinds skipped because they are custom resources."""
    skipped = []
    for r in rec.custom():
        if not r.type.startswith("kubernetes:"):
            continue
        if r.inputs["kind"] in CUSTOM_KINDS:
            skipped.append(r.inputs["kind"])
            continue
        kubernetes_validate.validate(r.inputs, "1.33", strict=True)
    return sorted(set(skipped))


def test_every_rendered_object_validates_against_kubernetes_1_33_strictly():
    assert validate_all(serve(spec_of())) == ["HTTPRoute", "HealthCheckPolicy", "PodMonitoring"]
    assert validate_all(serve(spec_of(runtime="torchserve", resources={"cpu": 2, "memory": "4Gi"}, scaling={},
                                      rollout={}, placement={}), gateway=None)) == ["PodMonitoring"]
    assert validate_all(serve(spec_of(runtime="tfserving", resources={"cpu": 0.5, "memory": "1Gi"}, scaling={},
                                      rollout={}))) == ["HTTPRoute", "HealthCheckPolicy"]
    assert validate_all(run_job({"name": "score", "image": "x/score:1"})) == []
    assert validate_all(run_job({"name": "train", "image": "x/train:5", "schedule": "0 4 * * 0", "parallelism": 2,
                                 "completions": 4, "activeDeadlineSeconds": 7200})) == []
    assert validate_all(adapter()) == [], "APIServices, RBAC and the adapter's Deployment validate too"


def test_a_one_off_job_runs_once_restricted_on_spot_first_and_pulumi_does_not_wait_for_it():
    rec = run_job({"name": "score", "image": "x/score:1", "args": ["--date", "today"],
                   "resources": {"cpu": 4, "memory": "16Gi", "gpu": {"type": "nvidia-l4"}}})
    job = rec.one("kubernetes:batch/v1:Job").inputs
    assert job["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["ttlSecondsAfterFinished"]) == (2, 86400)
    assert spec["podFailurePolicy"] == {"rules": [{"action": "Ignore", "onPodConditions": [
        {"type": "DisruptionTarget", "status": "True"}]}]}
    assert "activeDeadlineSeconds" not in spec and "parallelism" not in spec
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Never"
    assert pod_spec["securityContext"] == POD_SECURITY
    assert pod_spec["tolerations"] == [GPU_TOLERATION, SPOT_TOLERATION]
    assert pod_spec["affinity"] == PREFER_SPOT
    assert pod_spec["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    container = pod_spec["containers"][0]
    assert container["securityContext"] == CONTAINER_SECURITY
    assert container["resources"] == {"requests": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"},
                                      "limits": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}}
    assert container["args"] == ["--date", "today"] and "command" not in container
    assert rec.of_type("kubernetes:batch/v1:CronJob") == []
    assert rec.of_type("kubernetes:core/v1:Namespace") == [], "the caller owns the jobs namespace"


def test_a_scheduled_job_is_a_cron_job_that_never_overlaps_and_requires_spot_when_asked():
    rec = run_job({"name": "retrain", "image": "x/train:5", "schedule": "0 4 * * 0", "placement": {"spot": "require"}})
    cron = rec.one("kubernetes:batch/v1:CronJob").inputs["spec"]
    assert {k: v for k, v in cron.items() if k != "jobTemplate"} == {
        "schedule": "0 4 * * 0", "timeZone": "Etc/UTC", "concurrencyPolicy": "Forbid", "startingDeadlineSeconds": 3600,
        "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3}
    pod_spec = cron["jobTemplate"]["spec"]["template"]["spec"]
    assert pod_spec["affinity"] == REQUIRE_SPOT and pod_spec["tolerations"] == [SPOT_TOLERATION]
    assert rec.of_type("kubernetes:batch/v1:Job") == []


def test_a_job_reads_its_inputs_writes_its_outputs_and_nothing_else():
    rec = run_job({"name": "train", "image": "x/train:5"})
    grants = {g.name: g.inputs["role"] for g in rec.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")}
    assert grants == {"lake-train-sa-read": "roles/storage.objectViewer", "art-train-sa-readwrite": "roles/storage.objectUser"}
    assert rec.one(WI).inputs["member"] == "serviceAccount:acme-test.svc.id.goog[mlinfra-jobs/train]"
    assert rec.one("kubernetes:batch/v1:Job").inputs["metadata"]["namespace"] == "mlinfra-jobs"


def adapter():
    def program():
        provider = k8s.Provider("k8s", kubeconfig="{}")
        GkeMetricsAdapter("metrics", GkeMetricsAdapterArgs(project="acme-test", provider=provider, workload_pool=POOL))
    return run_component(program)


def test_metrics_adapter_reads_cloud_monitoring_as_its_own_identity_and_serves_three_apis():
    rec = adapter()
    assert rec.one(WI).inputs["member"] == \
        "serviceAccount:acme-test.svc.id.goog[custom-metrics/custom-metrics-stackdriver-adapter]"
    viewer = rec.one("gcp:projects/iAMMember:IAMMember")
    assert (viewer.inputs["role"], viewer.inputs["member"]) == (
        "roles/monitoring.viewer", "serviceAccount:metrics-sa@acme-test.iam.gserviceaccount.com")
    apis = {r.inputs["metadata"]["name"]: r.inputs["spec"]["versionPriority"]
            for r in rec.of_type("kubernetes:apiregistration.k8s.io/v1:APIService")}
    assert apis == {"v1beta1.custom.metrics.k8s.io": 100, "v1beta2.custom.metrics.k8s.io": 200,
                    "v1beta1.external.metrics.k8s.io": 100}
    container = rec.one(DEPLOYMENT).inputs["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == ADAPTER_IMAGE
    assert container["resources"]["limits"] == container["resources"]["requests"] == {"cpu": "250m", "memory": "400Mi"}
    bindings = {r.inputs["metadata"]["name"]: r.inputs["roleRef"]["name"]
                for r in rec.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")}
    assert bindings == {"custom-metrics:system:auth-delegator": "system:auth-delegator",
                        "custom-metrics-resource-reader": "custom-metrics-resource-reader",
                        "external-metrics-reader": "external-metrics-reader"}


def issue_messages(**changes: Any) -> dict[str, str]:
    return {".".join(map(str, i.path)): i.message for i in gke_service_issues(spec_of(**changes))}


@pytest.mark.parametrize("changes, key, message", [
    ({"runtime": None, "model": None}, "image", "needs an image"),
    ({"model": None, "rollout": {}}, "model", "runtime vllm loads a model"),
    ({"runtime": None}, "runtime", "needs a runtime to serve it"),
    ({"runtime": "custom", "model": None, "rollout": {}}, "image", "runtime custom needs an image"),
    ({"resources": {"cpu": 8, "memory": "32Gi"}}, "resources.gpu", "runtime vllm needs a GPU"),
    ({"resources": {"cpu": 8, "memory": "32 GB", "gpu": {"type": "nvidia-l4"}}}, "resources.memory", "is not a memory quantity"),
    ({"resources": {"gpu": {"type": "nvidia-l4", "count": 0}}}, "resources.gpu.count", "must be at least 1"),
    ({"scaling": {"minReplicas": 6, "maxReplicas": 3}}, "scaling.maxReplicas", "is below minReplicas (6)"),
    ({"scaling": {"metric": "cpu", "target": 150}}, "scaling.target", "CPU utilization percent"),
    ({"runtime": "torchserve", "resources": {}}, "scaling.metric", "runtime torchserve exports no queueDepth metric"),
    ({"runtime": "triton", "scaling": {"metric": "requestsInFlight"}}, "scaling.metric",
     "runtime triton exports no requestsInFlight metric"),
    ({"scaling": {"metric": "queueDepth", "prometheusMetric": "my_queue"}}, "scaling.prometheusMetric",
     "runtime vllm has its own queueDepth metric"),
    ({"runtime": "custom", "image": "x/srv:1", "model": None, "rollout": {}}, "scaling.prometheusMetric",
     "a custom server scaled on queueDepth must name its gauge"),
    ({"runtime": "custom", "image": "x/srv:1", "model": None, "rollout": {}}, "metricsPort", "needs the port"),
    ({"rollout": {"canary": {"version": "7", "percent": 10}}}, "rollout.canary.version", "is the stable version itself"),
    ({"rollout": {"canary": {"percent": 10}}}, "rollout.canary.version", "needs the new model version"),
    ({"rollout": {"canary": {"version": "8", "image": "x/y:2", "percent": 10}}}, "rollout.canary.image",
     "changes the version, not the image"),
    ({"runtime": None, "model": None, "image": "x/web:1", "resources": {}, "scaling": {},
      "rollout": {"canary": {"percent": 10}}}, "rollout.canary.image", "needs the new image"),
    ({"probes": {"startup": {"timeoutSeconds": 20, "periodSeconds": 10}}}, "probes.startup.timeoutSeconds",
     "is longer than periodSeconds"),
    ({"resources": {"gpu": {"type": "nvidia-l4", "count": 2}}}, "resources.memory",
     "a vLLM server on 2 GPU(s) cannot run in the default 2Gi"),
])
def test_rejects_what_gke_would_refuse_or_run_badly(changes, key, message):
    found = issue_messages(**changes)
    assert key in found, found
    assert message in found[key]


def test_a_valid_service_has_no_issues():
    assert gke_service_issues(spec_of()) == []
    assert gke_service_issues(spec_of(runtime="custom", image="x/srv:1", model=None, rollout={}, metrics_port=9090,
                                      scaling={"metric": "queueDepth", "prometheusMetric": "app_queue"})) == []


def test_rejects_a_spec_with_an_unknown_key_or_a_bad_gpu_type():
    with pytest.raises(ValueError, match="extra_forbidden|Extra inputs"):
        GkeServiceSpec.model_validate({**LLM, "replicas": 3})
    with pytest.raises(ValueError, match="string_pattern_mismatch|should match pattern"):
        GkeServiceSpec.model_validate({**LLM, "resources": {"gpu": {"type": "L4"}}})


def test_fails_if_a_model_server_gets_no_bucket_to_mount_its_model():
    def program():
        GkeModelServer("srv", GkeModelServerArgs(spec=spec_of(), project="acme-test", namespace="ns",
                                                 provider=k8s.Provider("k8s", kubeconfig="{}"), workload_pool=POOL,
                                                 environment="dev"))
    with pytest.raises(InputError, match="model: needs the artifact bucket"):
        run_component(program)


@pytest.mark.parametrize("schedule, message", [
    ("0 4 * *", "has 4 fields"),
    ("61 4 * * 0", "invalid minute"),
    ("0 4 * * MON-FRX", "invalid day of week"),
    ("0 4 32 * *", "invalid day of month"),
    ("CRON_TZ=UTC 0 4 * * *", "cannot carry a time zone"),
])
def test_rejects_cron_schedules_the_cron_job_controller_would_not_parse(schedule, message):
    (issue,) = cron_issues(schedule)
    assert message in issue.message and issue.path == ("schedule",)


def test_accepts_common_cron_forms():
    for schedule in ("0 4 * * 0", "*/15 * * * *", "0 0 1,15 * MON-FRI", "30 2 * JAN-MAR *", "@daily", "5/10 * * * *"):
        assert cron_issues(schedule) == [], schedule


def test_rejects_job_memory_and_parallelism_beyond_completions():
    spec = GkeJobSpec.model_validate({"name": "j", "image": "x/j:1", "resources": {"memory": "lots"},
                                      "parallelism": 4, "completions": 2})
    assert {".".join(map(str, i.path)) for i in gke_job_issues(spec)} == {"resources.memory", "parallelism"}
    with pytest.raises(InputError, match="schedule: has 1 fields"):
        run_job({"name": "j", "image": "x/j:1", "schedule": "daily"})
