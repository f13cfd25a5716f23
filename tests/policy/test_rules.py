"""The guardrails: each rule holds on a compliant stack, and each condition it checks, broken
once, yields exactly the expected finding. Also waivers, `--strict`, and the policy pack."""

from __future__ import annotations

import copy
import dataclasses
import shutil
import subprocess
import sys
from typing import Any, Callable

import pytest

from infra.guardrails import Waiver, judge, resources_of, violations
from policy.rules import RULES, RULE_IDS, Resource
from tests.conftest import ROOT, STACKS, run_stack, stack_config

CLUSTER, POOL, BUCKET = "gcp:container/cluster:Cluster", "gcp:container/nodePool:NodePool", "gcp:storage/bucket:Bucket"


def resources(stack: str) -> list[Resource]:
    return resources_of(run_stack(stack))


def mutate(stack: str, name: str, change: Callable[[dict], Any] | None = None, **fields: Any) -> list[Resource]:
    """The stack's resources with one resource (by name) changed: its inputs, or its options."""
    out, found = [], False
    for r in resources(stack):
        if r.name == name:
            found = True
            inputs = copy.deepcopy(dict(r.inputs))
            if change:
                change(inputs)
            r = dataclasses.replace(r, inputs=inputs, **fields)
        out.append(r)
    assert found, f"no resource {name} in {stack}"
    return out


def written_waivers(stack: str) -> list[Waiver]:
    return [Waiver(w["rule"], w["reason"], tuple(w.get("resources") or ()))
            for w in stack_config(stack).get("mlinfra:waivers") or []]


def findings(resources_: list[Resource], stack: str | None = None) -> list[tuple[str, str, str]]:
    """Open findings, with the stack's written waivers (the EKS stacks waive two rules for the device plugin)."""
    return [(f.rule, f.name, f.message) for f in violations(judge(resources_, written_waivers(stack) if stack else ()))]


def container(inputs: dict) -> dict:
    spec = inputs["spec"]
    pod = spec["jobTemplate"]["spec"]["template"]["spec"] if "jobTemplate" in spec else spec["template"]["spec"]
    return pod["containers"][0]


def pod(inputs: dict) -> dict:
    return inputs["spec"]["template"]["spec"]


def drop_key(path: tuple[str, ...]) -> Callable[[dict], None]:
    def change(inputs: dict) -> None:
        target = inputs
        for key in path[:-1]:
            target = target[key]
        target.pop(path[-1])
    return change


def setting(path: tuple[str, ...], value: Any) -> Callable[[dict], None]:
    def change(inputs: dict) -> None:
        target = inputs
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value
    return change


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_holds_every_guardrail_that_applies(stack):
    written = written_waivers(stack)
    verdicts = judge(resources(stack), written)
    assert violations(verdicts) == []
    assert {v.status for v in verdicts} <= {"holds", "n/a"} | ({"waived"} if written else set())
    # The bootstrap stack has IAM, tags and protection only: the other rules do not apply to it.
    assert sum(v.status == "holds" for v in verdicts) >= (2 if stack == "bootstrap" else 7)


def test_every_rule_is_judged_on_some_stack():
    applied = {v.rule for stack in STACKS for v in judge(resources(stack)) if v.status == "holds"}
    assert applied == RULE_IDS


K8S, SVC, DF, DF_PROD, EKS = "k8s-prod", "prod", "dataflow-dev", "dataflow-prod", "eks-prod"
LLM = "llm-dev"  # the external HTTPS Gateway
STREAM_JOB, LAUNCH = "mlinfra-df-streaming-features", "mlinfra-df-batch-scoring-launch"


def launch_env(**changes: Any) -> Callable[[dict], None]:
    """Change the launch environment inside a scheduler job's base64 JSON body (None removes a key)."""
    import base64
    import json

    def change(inputs: dict) -> None:
        body = json.loads(base64.b64decode(inputs["httpTarget"]["body"]))
        env = body["launchParameter"]["environment"]
        for key, value in changes.items():
            env.pop(key) if value is None else env.update({key: value})
        inputs["httpTarget"]["body"] = base64.b64encode(json.dumps(body).encode()).decode()
    return change
RANKER, JOB = "mlinfra-svc-ranker-stable", "mlinfra-job-retrain-ranker"
MUTATIONS = [
    ("MLI-GKE-001", K8S, "mlinfra-gke", setting(("privateClusterConfig", "enablePrivateNodes"), False), {},
     "nodes have public IP addresses"),
    ("MLI-GKE-002", K8S, "mlinfra-gke", drop_key(("workloadIdentityConfig",)), {}, "Workload Identity is off"),
    ("MLI-GKE-003", K8S, "mlinfra-gke-l4", setting(("nodeConfig", "workloadMetadataConfig", "mode"), "GCE_METADATA"), {},
     "the pool exposes the Compute metadata server to pods (mode GCE_METADATA)"),
    ("MLI-GKE-003", K8S, "mlinfra-gke", setting(("nodeConfig", "workloadMetadataConfig", "mode"), "GCE_METADATA"), {},
     "the default node pool exposes the Compute metadata server"),
    ("MLI-GKE-004", K8S, "mlinfra-gke", setting(("enableShieldedNodes",), False), {}, "shielded GKE nodes are off"),
    ("MLI-GKE-004", K8S, "mlinfra-gke-l4", setting(("nodeConfig", "shieldedInstanceConfig", "enableSecureBoot"), False), {},
     "secure boot is off"),
    ("MLI-GKE-004", K8S, "mlinfra-gke-l4",
     setting(("nodeConfig", "shieldedInstanceConfig", "enableIntegrityMonitoring"), False), {}, "integrity monitoring is off"),
    ("MLI-GKE-005", K8S, "mlinfra-gke", setting(("releaseChannel", "channel"), "UNSPECIFIED"), {}, "no release channel"),
    ("MLI-GKE-006", K8S, "mlinfra-gke", setting(("enableLegacyAbac",), True), {}, "legacy ABAC authorization is on"),
    ("MLI-GKE-007", K8S, "mlinfra-gke", setting(("masterAuth", "clientCertificateConfig", "issueClientCertificate"), True), {},
     "the cluster issues client certificates"),
    ("MLI-GKE-008", K8S, "mlinfra-gke-general", setting(("management", "autoRepair"), False), {}, "autoRepair is off"),
    ("MLI-GKE-008", K8S, "mlinfra-gke-general", setting(("management", "autoUpgrade"), False), {}, "autoUpgrade is off"),
    # A flex-start pool runs without auto-repair (GKE requires it) but is still auto-upgraded.
    ("MLI-GKE-008", K8S, "mlinfra-gke-dws-l4", setting(("management", "autoUpgrade"), False), {}, "autoUpgrade is off"),
    ("MLI-GKE-008", K8S, "mlinfra-gke-dws-l4", setting(("nodeConfig", "flexStart"), False), {}, "autoRepair is off"),
    ("MLI-GKE-009", K8S, "mlinfra-gke-general",
     setting(("nodeConfig", "serviceAccount"), "1234-compute@developer.gserviceaccount.com"), {},
     "nodes run as the Compute Engine default service account"),
    ("MLI-GCS-001", K8S, "mlinfra-storage-data-lake", setting(("uniformBucketLevelAccess",), False), {},
     "object ACLs are allowed"),
    ("MLI-GCS-002", K8S, "mlinfra-storage-data-lake", setting(("publicAccessPrevention",), "inherited"), {},
     "public access prevention is not enforced"),
    ("MLI-GCS-002", SVC, "mlinfra-storage-artifacts-mlinfra-svc-ranker-sa-read", setting(("member",), "allUsers"), {},
     "the bucket is granted to allUsers"),
    ("MLI-GCS-003", K8S, "mlinfra-storage-artifacts", setting(("versioning", "enabled"), False), {},
     "the model-artifact bucket keeps no versions"),
    ("MLI-IAM-001", K8S, "mlinfra-gke-nodes-artifactregistry-reader", setting(("role",), "roles/editor"), {},
     "grants the basic role roles/editor"),
    ("MLI-RUN-001", SVC, "mlinfra-svc-ranker-invoker-serviceaccount-storefron-dd786f", setting(("member",), "allUsers"), {},
     "allUsers may invoke ranker-prod, which does not say public: true"),
    ("MLI-RUN-001", SVC, "mlinfra-svc-ranker", setting(("invokerIamDisabled",), True), {},
     "the invoker IAM check is disabled"),
    ("MLI-K8S-001", K8S, RANKER, lambda i: container(i)["securityContext"].update(runAsNonRoot=False), {},
     "container server may run as root"),
    ("MLI-K8S-001", K8S, JOB, lambda i: container(i)["securityContext"].update(runAsUser=0), {},
     "runs as user 0"),
    ("MLI-K8S-002", K8S, RANKER, lambda i: container(i)["securityContext"].update(allowPrivilegeEscalation=True), {},
     "container server may escalate privileges"),
    ("MLI-K8S-002", K8S, RANKER, lambda i: container(i)["securityContext"].update(privileged=True), {},
     "container server is privileged"),
    ("MLI-K8S-003", K8S, RANKER, lambda i: container(i)["securityContext"]["capabilities"].update(drop=[]), {},
     "does not drop ALL capabilities"),
    ("MLI-K8S-003", K8S, RANKER, lambda i: container(i)["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]), {},
     "adds capabilities SYS_ADMIN"),
    ("MLI-K8S-004", K8S, RANKER, lambda i: [pod(i)["securityContext"].update(seccompProfile={"type": "Unconfined"}),
                                            container(i)["securityContext"].pop("seccompProfile", None)], {},
     "has no RuntimeDefault seccomp profile"),
    ("MLI-K8S-005", K8S, RANKER, lambda i: container(i)["resources"]["limits"].pop("cpu"), {}, "sets no limits for cpu"),
    ("MLI-K8S-005", K8S, JOB, lambda i: container(i)["resources"]["requests"].pop("memory"), {},
     "sets no requests for memory"),
    ("MLI-K8S-006", K8S, RANKER, lambda i: container(i).pop("readinessProbe"), {}, "has no readinessProbe"),
    ("MLI-K8S-006", K8S, RANKER, lambda i: container(i).pop("livenessProbe"), {}, "has no livenessProbe"),
    ("MLI-K8S-007", K8S, "mlinfra-svc-ranker-stable-hpa", setting(("spec", "minReplicas"), 1), {},
     "runs 1 replica in prod"),
    ("MLI-K8S-007", K8S, "mlinfra-svc-embedder-stable-pdb", setting(("spec", "selector", "matchLabels"), {"app": "other"}), {},
     "no PodDisruptionBudget covers it"),
    ("MLI-PRD-001", K8S, "mlinfra-storage-data-lake", None, {"protect": False}, "a stateful resource is not protected in prod"),
    ("MLI-PRD-001", K8S, "mlinfra-storage-data-lake", None, {"retain_on_delete": False},
     "a prod bucket is not retained when removed from the stack"),
    ("MLI-PRD-001", K8S, "mlinfra-images", None, {"protect": False}, "a stateful resource is not protected in prod"),
    ("MLI-PRD-001", K8S, "mlinfra-gke", setting(("deletionProtection",), False), {}, "deletion protection is off in prod"),
    ("MLI-PRD-001", SVC, "mlinfra-svc-ranker", setting(("deletionProtection",), False), {}, "deletion protection is off in prod"),
    ("MLI-LBL-001", K8S, "mlinfra-storage-artifacts", lambda i: i["labels"].pop("stack"), {}, "labels missing: stack"),
    ("MLI-GW-001", LLM, "mlinfra-gateway", lambda i: i["metadata"]["labels"].pop("mlinfra.dev/exposure"), {},
     "reachable from the internet, but the stack does not say exposure: external"),
    ("MLI-GW-001", LLM, "mlinfra-gateway", lambda i: i["metadata"]["labels"].update({"mlinfra.dev/exposure": "internal"}),
     {}, "the gke-l7-global-external-managed Gateway is reachable from the internet"),
    ("MLI-GW-002", LLM, "mlinfra-gateway", lambda i: i["spec"]["listeners"].pop(), {},
     "the external Gateway serves no HTTPS listener"),
    ("MLI-LB-001", "dev", "mlinfra-svc-summarizer", setting(("ingress",), "INGRESS_TRAFFIC_ALL"), {},
     "takes ingress INGRESS_TRAFFIC_ALL: its run.app URL bypasses the load balancer"),
    ("MLI-DFL-001", DF, STREAM_JOB, setting(("ipConfiguration",), "WORKER_IP_PUBLIC"), {},
     "the job gives its workers public IP addresses"),
    ("MLI-DFL-001", DF, LAUNCH, launch_env(ipConfiguration="WORKER_IP_PUBLIC"), {},
     "the scheduled launch gives its workers public IP addresses"),
    ("MLI-DFL-002", DF, STREAM_JOB, setting(("serviceAccountEmail",), "1234-compute@developer.gserviceaccount.com"), {},
     "the job runs its workers as the Compute Engine default service account"),
    ("MLI-DFL-002", DF, LAUNCH, launch_env(serviceAccountEmail=None), {},
     "the scheduled launch runs its workers as the Compute Engine default service account"),
    ("MLI-BQ-001", DF_PROD, "mlinfra-bq-scoring-churn-scores", setting(("deletionProtection",), False), {},
     "the table's deletion protection is off in prod"),
    ("MLI-BQ-001", DF_PROD, "mlinfra-bq-scoring-churn-scores", None, {"protect": False},
     "BigQuery data is not protected in prod"),
    ("MLI-BQ-001", DF_PROD, "mlinfra-bq-features", None, {"protect": False}, "BigQuery data is not protected in prod"),
    ("MLI-LBL-001", EKS, "mlinfra-eks", lambda i: i["tags"].pop("pattern"), {}, "labels missing: pattern"),
    ("MLI-EKS-001", EKS, "mlinfra-eks", setting(("vpcConfig", "endpointPrivateAccess"), False), {},
     "the API server has no private endpoint"),
    ("MLI-EKS-001", EKS, "mlinfra-eks", setting(("vpcConfig", "endpointPublicAccess"), True), {},
     "public to the whole internet"),
    ("MLI-EKS-002", EKS, "mlinfra-eks", drop_key(("encryptionConfig",)), {}, "secrets are not envelope-encrypted"),
    ("MLI-EKS-003", EKS, "mlinfra-eks", setting(("enabledClusterLogTypes",), ["api"]), {},
     "control-plane logs off: audit, authenticator"),
    ("MLI-EKS-004", EKS, "mlinfra-vpc-private-a", setting(("mapPublicIpOnLaunch",), True), {},
     "instances launched here get public IP addresses"),
    ("MLI-EKS-005", EKS, "mlinfra-eks-system", setting(("metadataOptions", "httpTokens"), "optional"), {},
     "IMDSv1 is allowed"),
    ("MLI-EKS-005", EKS, "mlinfra-eks-system", setting(("metadataOptions", "httpPutResponseHopLimit"), 2), {},
     "hop limit above 1"),
    ("MLI-EKS-005", EKS, "mlinfra-eks-karpenter-node-class", setting(("spec", "metadataOptions", "httpTokens"), "optional"),
     {}, "IMDSv1 is allowed on Karpenter's nodes"),
    ("MLI-EKS-005", EKS, "mlinfra-eks-karpenter-node-class",
     setting(("spec", "metadataOptions", "httpPutResponseHopLimit"), 2), {}, "instance metadata of Karpenter's nodes"),
    ("MLI-EKS-004", EKS, "mlinfra-eks-karpenter-node-class", setting(("spec", "associatePublicIPAddress"), True), {},
     "the nodes Karpenter launches get public IP addresses"),
    ("MLI-EKS-006", EKS, "mlinfra-eks", setting(("accessConfig", "authenticationMode"), "API_AND_CONFIG_MAP"), {},
     "aws-auth ConfigMap"),
    ("MLI-S3-001", EKS, "mlinfra-storage-data-lake-public-access", setting(("restrictPublicBuckets",), False), {},
     "public access is not blocked: restrictPublicBuckets"),
    ("MLI-S3-002", EKS, "mlinfra-storage-artifacts-encryption",
     lambda i: i["rules"][0]["applyServerSideEncryptionByDefault"].update(sseAlgorithm="AES256"), {},
     "not encrypted with the stack's KMS key"),
    ("MLI-S3-003", EKS, "mlinfra-storage-artifacts-versioning", setting(("versioningConfiguration", "status"), "Suspended"),
     {}, "the model-artifact bucket keeps no versions"),
    ("MLI-AWS-001", EKS, "mlinfra-storage-artifacts", None, {"protect": False}, "not protected in prod"),
    ("MLI-AWS-001", EKS, "mlinfra-eks", setting(("deletionProtection",), False), {}, "deletion protection is off in prod"),
    ("MLI-AWS-001", EKS, "mlinfra-images", setting(("imageTagMutability",), "MUTABLE"), {}, "image tags can be overwritten"),
]


@pytest.mark.parametrize("rule,stack,name,change,options,message", MUTATIONS,
                         ids=[f"{m[0]} {m[-1][:40]}" for m in MUTATIONS])
def test_breaking_one_condition_yields_exactly_that_rules_finding(rule, stack, name, change, options, message):
    found = findings(mutate(stack, name, change, **options), stack)
    assert len(found) == 1, found
    got_rule, got_name, got_message = found[0]
    assert got_rule == rule
    assert message in got_message


def test_every_rule_has_a_mutation_that_breaks_it():
    assert {m[0] for m in MUTATIONS} == RULE_IDS


def test_a_service_that_says_public_may_be_invoked_by_all_users():
    def public(i):
        i.setdefault("labels", {})["public"] = "true"
    broken = mutate(SVC, "mlinfra-svc-ranker-invoker-serviceaccount-storefron-dd786f", setting(("member",), "allUsers"))
    marked = [dataclasses.replace(r, inputs={**r.inputs, "labels": {**r.labels, "public": "true"}})
              if r.name == "mlinfra-svc-ranker" else r for r in broken]
    assert findings(marked) == []


def test_an_external_gateway_may_serve_plain_http_when_the_stack_says_so():
    def plain(i):
        i["spec"]["listeners"].pop()
        i["metadata"]["labels"]["mlinfra.dev/plain-http"] = "allowed"
    assert findings(mutate(LLM, "mlinfra-gateway", plain), LLM) == []


def test_a_prod_cloud_run_job_holds_and_is_found_unprotected_or_runnable_by_anyone():
    from tests.conftest import run_config

    rec = run_config({"gcp:project": "acme-ml-prod", "gcp:region": "us-central1", "mlinfra:pattern": "hybrid",
                      "mlinfra:environment": "prod", "mlinfra:jobs": [
                          {"name": "score", "platform": "cloudrun", "image": "x/score:1", "schedule": "0 2 * * *"}]},
                     stack="jobs-prod")
    clean = resources_of(rec)
    assert findings(clean) == []

    def changed(name: str, **inputs: Any) -> list[Resource]:
        return [dataclasses.replace(r, inputs={**r.inputs, **inputs}) if r.name == name else r for r in clean]
    assert findings(changed("mlinfra-job-score", deletionProtection=False)) == [
        ("MLI-PRD-001", "mlinfra-job-score", "deletion protection is off in prod")]
    assert findings(changed("mlinfra-job-score-scheduler-runs", member="allUsers")) == [
        ("MLI-RUN-001", "mlinfra-job-score-scheduler-runs", "allUsers may invoke score-jobs-prod, which does not say public: true")]


def test_a_waiver_turns_a_violation_into_a_shown_exception():
    broken = mutate(K8S, "mlinfra-svc-ranker-stable-hpa", setting(("spec", "minReplicas"), 1))
    waiver = Waiver("MLI-K8S-007", "the ranker tolerates a short outage during upgrades",
                    ("mlinfra-svc-ranker-stable",))
    verdicts = {v.rule: v for v in judge(broken, [waiver])}
    assert verdicts["MLI-K8S-007"].status == "waived"
    assert violations(verdicts.values()) == []
    other = Waiver("MLI-K8S-007", "covers another deployment only, not this one", ("mlinfra-svc-embedder-stable",))
    assert {v.rule for v in judge(broken, [other]) if v.status == "violated"} == {"MLI-K8S-007"}


def cli_plan(project_dir, stack: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra.cli", "--project-dir", str(project_dir), "plan",
                           "--stack", stack, "--strict"], capture_output=True, text=True, timeout=180)


@pytest.fixture
def project_copy(tmp_path):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    for part in ("infra", "functions"):
        (tmp_path / part).symlink_to(ROOT / part)
    (tmp_path / "stacks").mkdir()
    return tmp_path


def test_strict_plan_fails_with_the_rule_id_when_a_stack_turns_off_a_secure_default(project_copy):
    text = (ROOT / "stacks/Pulumi.prod.yaml").read_text().replace("      keepVersions: 10",
                                                                  "      keepVersions: 10\n      versioning: false")
    (project_copy / "stacks/Pulumi.weak.yaml").write_text(text)
    done = cli_plan(project_copy, "weak")
    assert done.returncode == 1
    assert "FAIL  MLI-GCS-003" in done.stdout
    assert "guardrails violated: MLI-GCS-003" in done.stderr


def test_strict_plan_fails_when_an_aws_stack_turns_off_artifact_versioning(project_copy):
    text = (ROOT / "stacks/Pulumi.eks-prod.yaml").read_text().replace(
        "    dataLake: {retentionDays: 30}", "    dataLake: {retentionDays: 30}\n    artifacts: {versioning: false}")
    (project_copy / "stacks/Pulumi.weak-eks.yaml").write_text(text.replace("eks-prod-us-east-1", "weak-eks-us-east-1"))
    done = cli_plan(project_copy, "weak-eks")
    assert done.returncode == 1, done.stderr
    assert "FAIL  MLI-S3-003" in done.stdout
    assert "guardrails violated: MLI-S3-003" in done.stderr


def test_strict_plan_passes_with_a_written_waiver_and_shows_it(project_copy):
    text = (ROOT / "stacks/Pulumi.prod.yaml").read_text().replace("      keepVersions: 10",
                                                                  "      keepVersions: 10\n      versioning: false")
    text += ("\n  mlinfra:waivers:\n    - rule: MLI-GCS-003\n"
             "      reason: models are rebuilt from source by CI, versions are not needed\n")
    (project_copy / "stacks/Pulumi.waived.yaml").write_text(text)
    done = cli_plan(project_copy, "waived")
    assert done.returncode == 0, done.stderr
    assert "WAIV  MLI-GCS-003" in done.stdout
    assert "waived: models are rebuilt from source by CI" in done.stdout


def test_rejects_a_waiver_of_an_unknown_rule_or_without_a_real_reason():
    from tests.infra.test_config import errors, with_keys

    found = errors(with_keys(waivers=[{"rule": "MLI-GKE-0006", "reason": "we really need this exception"}]))
    assert found[0][0] == "mlinfra:waivers[0].rule" and "did you mean MLI-GKE-006?" in found[0][1]
    found = errors(with_keys(waivers=[{"rule": "MLI-GKE-001", "reason": "because"}]))
    assert found[0][0] == "mlinfra:waivers[0].reason"


def policy_resources(stack: str, changed: list[Resource] | None = None):
    """Recorded resources as the policy SDK hands them to a stack policy."""
    from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions

    out = []
    for r in changed or resources(stack):
        opts = PolicyResourceOptions(protect=r.protect, ignore_changes=[], delete_before_replace=None, aliases=[],
                                     custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[])
        out.append(PolicyResource(r.type, r.inputs, r.urn, r.name, opts, None, None, [], {}))
    return out


def run_pack(policy_resources_, waivers=()) -> list[tuple[str, str]]:
    from pulumi_policy import StackValidationArgs

    from policy.pack import policies

    reported = []
    for policy in policies(lambda urn: list(waivers)):
        policy.validate(StackValidationArgs(policy_resources_), lambda message, urn=None: reported.append((message, urn)))
    return reported


def test_policy_pack_runs_the_same_rules_on_what_the_engine_hands_it():
    assert run_pack(policy_resources(K8S)) == []
    broken = mutate(K8S, "mlinfra-gke", setting(("enableLegacyAbac",), True))
    reported = run_pack(policy_resources(K8S, broken))
    assert reported == [("MLI-GKE-006: mlinfra-gke: legacy ABAC authorization is on",
                         next(r.urn for r in broken if r.name == "mlinfra-gke"))]
    assert run_pack(policy_resources(K8S, broken),
                    [{"rule": "MLI-GKE-006", "reason": "a legacy client needs ABAC for a while"}]) == []


def test_policy_pack_reads_waivers_from_the_stack_file_of_the_urn(tmp_path):
    from infra.guardrails import stack_waivers

    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks/Pulumi.qa.yaml").write_text(
        "config:\n  mlinfra:waivers:\n    - {rule: MLI-GKE-006, reason: a legacy client needs ABAC for now}\n")
    assert stack_waivers("urn:pulumi:qa::mlinfra::gcp:container/cluster:Cluster::c", tmp_path) == [
        {"rule": "MLI-GKE-006", "reason": "a legacy client needs ABAC for now"}]
    assert stack_waivers("urn:pulumi:nope::mlinfra::x::y", tmp_path) == []


def test_rules_have_unique_ids_and_references():
    assert len(RULE_IDS) == len(RULES)
    assert all(rule.reference and rule.title for rule in RULES)
