"""`protocol: grpc` on EKS: the ranker of eks-prod behind an HTTPS listener of the stack's ALB with
its certificate, a GRPC target group checked by grpc.health.v1 (Triton) or the controller's gRPC
default, the canary's weights in the forward action, gRPC probes and an h2c Service port, strict
schema validation, and the rules that refuse what the ALB cannot serve, each naming its key."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest

from infra import config
from infra.errors import ConfigError, key_path
from infra.plan import Plan, kubernetes_objects
from infra.stackfile import to_engine_config
from tests.conftest import PROJECT, run_config, stack_config

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d"


def eks_prod(**ranker) -> dict:
    values = stack_config("eks-prod")
    values["mlinfra:services"][0].update(ranker)
    return values


def objects(values: dict, kind: str) -> dict[str, dict]:
    plan = Plan("eks-prod", "stacks/Pulumi.eks-prod.yaml", values, run_config(values, stack="eks-prod"), 0.0, [])
    return {o["metadata"]["name"]: o for o in kubernetes_objects(plan) if o["kind"] == kind}


def errors_of(values: dict) -> dict[str, str]:
    engine_values, _ = to_engine_config(values)
    with pytest.raises(ConfigError) as caught:
        config.load(engine_values, stack="eks-prod", file="stacks/Pulumi.eks-prod.yaml", root=PROJECT.root)
    return {key_path(i.path): i.message for i in caught.value.issues}


def test_a_grpc_ranker_gets_an_https_listener_a_grpc_target_group_and_grpc_health_checks():
    values = eks_prod(protocol="grpc", certificateArn=CERT)
    ingress = objects(values, "Ingress")["ranker"]
    annotations = ingress["metadata"]["annotations"]
    forward = json.loads(annotations.pop("alb.ingress.kubernetes.io/actions.weighted"))
    assert [(g["serviceName"], g["servicePort"], g["weight"]) for g in forward["forwardConfig"]["targetGroups"]] == \
        [("ranker-stable", "80", 90), ("ranker-canary", "80", 10)]
    assert annotations == {
        "alb.ingress.kubernetes.io/scheme": "internal",
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/group.name": "mlinfra",
        "alb.ingress.kubernetes.io/listen-ports": '[{"HTTPS": 443}]',
        "alb.ingress.kubernetes.io/certificate-arn": CERT,
        "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "alb.ingress.kubernetes.io/backend-protocol": "HTTP",
        "alb.ingress.kubernetes.io/backend-protocol-version": "GRPC",
        "alb.ingress.kubernetes.io/healthcheck-path": "/grpc.health.v1.Health/Check",
        "alb.ingress.kubernetes.io/success-codes": "0",
    }
    assert ingress["spec"] == {"ingressClassName": "alb", "rules": [{"http": {"paths": [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "weighted",
                                                                    "port": {"name": "use-annotation"}}}}]}}]}
    service = objects(values, "Service")["ranker-stable"]
    assert service["spec"]["ports"] == [{"name": "grpc", "port": 80, "targetPort": "grpc", "protocol": "TCP",
                                         "appProtocol": "kubernetes.io/h2c"}]
    container = objects(values, "Deployment")["ranker-stable"]["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"][0] == {"name": "grpc", "containerPort": 8001, "protocol": "TCP"}
    assert container["readinessProbe"]["grpc"] == {"port": 8001}
    for obj in (ingress, service, objects(values, "Deployment")["ranker-stable"]):
        kubernetes_validate.validate(obj, "1.33.0", strict=True)


def test_a_server_without_grpc_health_is_checked_on_the_controllers_grpc_default():
    values = eks_prod(protocol="grpc", certificateArn=CERT, runtime="tfserving", resources={"cpu": 2, "memory": "4Gi"},
                      rollout={})
    annotations = objects(values, "Ingress")["ranker"]["metadata"]["annotations"]
    assert (annotations["alb.ingress.kubernetes.io/healthcheck-path"],
            annotations["alb.ingress.kubernetes.io/success-codes"]) == ("/AWS.ALB/healthcheck", "12")


def test_an_http_ranker_keeps_its_http_listener_and_prefix():
    annotations = objects(stack_config("eks-prod"), "Ingress")["ranker"]["metadata"]["annotations"]
    assert "alb.ingress.kubernetes.io/listen-ports" not in annotations
    assert "alb.ingress.kubernetes.io/backend-protocol-version" not in annotations
    assert annotations["alb.ingress.kubernetes.io/healthcheck-path"] == "/v2/health/ready"


def test_grpc_without_a_certificate_and_a_certificate_without_grpc_are_refused_naming_the_key():
    found = errors_of(eks_prod(protocol="grpc"))
    assert list(found) == ["mlinfra:services[0].certificateArn"] and "HTTPS" in found[
        "mlinfra:services[0].certificateArn"]
    found = errors_of(eks_prod(certificateArn=CERT))
    assert list(found) == ["mlinfra:services[0].certificateArn"] and "http server" in found[
        "mlinfra:services[0].certificateArn"]
    assert list(errors_of(eks_prod(protocol="grpc", certificateArn="arn:aws:acm:us-east-1:1:cert"))) == [
        "mlinfra:services[0].certificateArn"]


def test_a_second_grpc_server_on_the_alb_is_refused_naming_its_key():
    values = eks_prod(protocol="grpc", certificateArn=CERT)
    values["mlinfra:services"].append({**values["mlinfra:services"][0], "name": "reranker", "rollout": {}})
    found = errors_of(values)
    assert list(found) == ["mlinfra:services[1].protocol"] and "ranker already takes" in found[
        "mlinfra:services[1].protocol"]
