"""Secrets on GKE workloads and models from outside the artifact bucket: Secret Manager secrets
mounted by GKE's add-on and exported by the container's shell, Hugging Face model ids with
their token, and models in another bucket with a read grant on it."""

from __future__ import annotations

import copy
import os
import subprocess

import kubernetes_validate
import pytest

from components.kubernetes.pods import EXPORT_SECRETS, SECRETS_DIR
from infra import config
from infra.errors import ConfigError, key_path
from infra.stackfile import to_engine_config
from tests.conftest import PROJECT, run_config, stack_config

SPC = "kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass"
HF = {"uri": "hf://meta-llama/Llama-3.1-8B-Instruct", "version": "main", "tokenSecret": "hf-token"}


def k8s_dev(**service) -> dict:
    values = copy.deepcopy(stack_config("k8s-dev"))
    values["mlinfra:services"][0].update(service)
    return values


def errors_of(values: dict, stack: str = "k8s-dev") -> list[tuple[str, str]]:
    engine_values, _ = to_engine_config(values)
    with pytest.raises(ConfigError) as caught:
        config.load(engine_values, stack=stack, file=f"stacks/Pulumi.{stack}.yaml", root=PROJECT.root)
    return [(key_path(i.path), str(caught.value)) for i in caught.value.issues]


def server(rec, name="summarizer"):
    return rec.one("kubernetes:apps/v1:Deployment", f"mlinfra-svc-{name}-stable").inputs["spec"]["template"]


def test_a_gke_service_reads_its_secrets_as_files_from_the_add_on_and_only_those():
    rec = run_config(k8s_dev(secrets=[{"env": "API_KEY", "secret": "summarizer-key", "version": "3"}]), stack="k8s-dev")
    [spc] = rec.of_type(SPC)
    assert spc.inputs["spec"] == {"provider": "gke", "parameters": {"secrets": (
        '- resourceName: "projects/acme-ml-dev/secrets/summarizer-key/versions/3"\n  path: "API_KEY"\n')}}
    [grant] = rec.of_type("gcp:secretmanager/secretIamMember:SecretIamMember")
    assert (grant.inputs["secretId"], grant.inputs["role"]) == ("summarizer-key", "roles/secretmanager.secretAccessor")
    assert grant.name.startswith("mlinfra-svc-summarizer-")
    assert rec.one("gcp:container/cluster:Cluster").inputs["secretManagerConfig"] == {"enabled": True}
    pod = server(rec)
    assert {"name": "mlinfra-secrets", "csi": {"driver": "secrets-store-gke.csi.k8s.io", "readOnly": True,
                                               "volumeAttributes": {"secretProviderClass": "summarizer-secrets"}}} \
        in pod["spec"]["volumes"]
    container = pod["spec"]["containers"][0]
    assert container["command"][:4] == ["/bin/sh", "-c", EXPORT_SECRETS, "mlinfra-secrets"]
    assert container["command"][4:] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    assert {"name": "mlinfra-secrets", "mountPath": SECRETS_DIR, "readOnly": True} in container["volumeMounts"]
    assert not rec.of_type("kubernetes:core/v1:Secret")  # no value passes through Pulumi
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod["spec"]},
                                 "1.33", strict=True)


def test_a_cluster_without_secrets_keeps_the_add_on_off():
    rec = run_config(stack_config("k8s-dev"), stack="k8s-dev")
    assert "secretManagerConfig" not in rec.one("gcp:container/cluster:Cluster").inputs
    assert rec.of_type(SPC) == []


def test_the_export_shell_turns_each_file_into_its_variable_and_execs_the_command(tmp_path):
    (tmp_path / "..data").mkdir()
    (tmp_path / "..data" / "HF_TOKEN").write_text("hf_secret\n")
    os.symlink("..data/HF_TOKEN", tmp_path / "HF_TOKEN")  # the CSI driver's atomic-writer layout
    (tmp_path / "API_KEY").write_text("two words")
    script = EXPORT_SECRETS.replace(SECRETS_DIR, str(tmp_path))
    out = subprocess.run(["/bin/sh", "-c", script, "mlinfra-secrets", "/bin/sh", "-c",
                          'printf "%s|%s|%s" "$HF_TOKEN" "$API_KEY" "$0"'], capture_output=True, text=True, check=True)
    assert out.stdout == "hf_secret|two words|/bin/sh"


def test_a_hugging_face_model_is_loaded_by_vllm_at_its_revision_with_the_token_from_secret_manager():
    rec = run_config(k8s_dev(model=HF), stack="k8s-dev")
    pod = server(rec)
    container = pod["spec"]["containers"][0]
    args = container["args"]
    assert args[:2] == ["--model", "meta-llama/Llama-3.1-8B-Instruct"]
    assert args[args.index("--revision") + 1] == "main"
    assert not any(v.get("csi", {}).get("driver") == "gcsfuse.csi.storage.gke.io" for v in pod["spec"]["volumes"])
    assert '- resourceName: "projects/acme-ml-dev/secrets/hf-token/versions/latest"\n  path: "HF_TOKEN"\n' == \
        rec.one(SPC).inputs["spec"]["parameters"]["secrets"]
    [cache] = [v for v in pod["spec"]["volumes"] if v["name"] == "cache"]
    assert cache["emptyDir"]["sizeLimit"] == "32Gi"  # the download's room
    # No read grant on the artifact bucket: the model comes from the Hub.
    assert not [r for r in rec.of_type("gcp:storage/bucketIAMMember:BucketIAMMember") if "summarizer" in r.name]


def test_a_model_in_another_bucket_is_read_there_with_a_grant_on_that_bucket_only():
    rec = run_config(k8s_dev(model={"uri": "gs://acme-shared-models/summarizer", "version": "7", "external": True}),
                     stack="k8s-dev")
    [bucket] = rec.of_type("mlinfra:gcp:ExistingBucket")
    [grant] = rec.children_of(bucket)
    assert (grant.inputs["bucket"], grant.inputs["role"]) == ("acme-shared-models", "roles/storage.objectViewer")
    volume = next(v for v in server(rec)["spec"]["volumes"] if v.get("csi", {}).get("driver") == "gcsfuse.csi.storage.gke.io")
    assert volume["csi"]["volumeAttributes"]["bucketName"] == "acme-shared-models"


@pytest.mark.parametrize("service, key, fragment", [
    # (k8s-dev's summarizer scales on vLLM's KV cache, which Triton has not: on its queue here.)
    ({"model": {**HF}, "runtime": "triton", "scaling": {"maxReplicas": 2, "metric": "queueDepth", "target": 5}},
     "mlinfra:services[0].model.uri", "which runtime triton cannot load"),
    ({"model": {"uri": "gs://acme-shared-models/s", "version": "7"}}, "mlinfra:services[0].model.uri",
     "external: true"),
    ({"model": {**HF, "external": True}}, "mlinfra:services[0].model.external", "downloaded from the Hub"),
    ({"model": {"uri": "gs://acme-ml-dev-k8s-dev-artifacts/models/s", "version": "7", "tokenSecret": "t"}},
     "mlinfra:services[0].model.tokenSecret", "Hugging Face token"),
    ({"secrets": [{"env": "HF_TOKEN", "secret": "x"}], "model": HF}, "mlinfra:services[0].secrets[0].env",
     "is the variable model.tokenSecret sets"),
])
def test_each_bad_model_source_or_secret_fails_naming_its_key(service, key, fragment):
    found = errors_of(k8s_dev(**service))
    assert [k for k, _ in found] == [key], found
    assert fragment in found[0][1]


def test_secrets_on_an_image_whose_command_is_not_known_fail_naming_the_key():
    values = copy.deepcopy(stack_config("k8s-dev"))
    values["mlinfra:services"] = [{"name": "scorer", "image": "us-docker.pkg.dev/acme/serve/scorer:1",
                                   "secrets": [{"env": "API_KEY", "secret": "scorer-key"}]}]
    found = errors_of(values)
    assert [k for k, _ in found] == ["mlinfra:services[0].secrets"], found
    assert "command is not known" in found[0][1] and "set `command`" in found[0][1]
    values["mlinfra:services"][0]["command"] = ["/app/serve"]
    engine_values, _ = to_engine_config(values)
    config.load(engine_values, stack="k8s-dev", file="stacks/Pulumi.k8s-dev.yaml", root=PROJECT.root)


def test_a_hugging_face_model_on_cloud_run_gets_its_token_as_a_secret_variable_and_no_bucket_mount():
    values = copy.deepcopy(stack_config("dev"))
    service = values["mlinfra:services"][1]
    del service["secrets"], service["rollout"]
    service["model"] = {"uri": "hf://google/gemma-3-4b-it", "version": "main", "tokenSecret": "hf-token"}
    rec = run_config(values, stack="dev")
    run = rec.one("gcp:cloudrunv2/service:Service", "mlinfra-svc-summarizer")
    template = run.inputs["template"]
    assert "volumes" not in template or not any(v.get("gcs") for v in template["volumes"])
    container = template["containers"][0]
    assert {"name": "HF_TOKEN", "valueSource": {"secretKeyRef": {"secret": "hf-token", "version": "latest"}}} \
        in container["envs"]
    assert container["args"][:2] == ["--model", "google/gemma-3-4b-it"]
    grants = [r for r in rec.of_type("gcp:secretmanager/secretIamMember:SecretIamMember") if "summarizer" in r.name]
    assert [g.inputs["secretId"] for g in grants] == ["hf-token"]
