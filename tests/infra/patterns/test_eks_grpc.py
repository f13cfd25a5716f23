"""`protocol: grpc` on EKS: the ranker of eks-prod behind an HTTPS listener its certificate gives
the stack's Pulumi-owned ALB (TLS 1.2/1.3 policy, 443 open to the VPC only), target groups of
protocol version GRPC checked by grpc.health.v1 (Triton) or /AWS.ALB/healthcheck (code 12),
filled by TargetGroupBindings, one rule on that listener taking every call with the canary's
weights; gRPC probes and an h2c Service port, strict schema validation; no objectives for a gRPC
server (its slo refused, no prod default, no alert topic needed); and the rules that refuse what
the ALB cannot serve, each naming its key."""

from __future__ import annotations

import kubernetes_validate
import pytest

from components.aws.eks.eks_service_spec import rule_priority
from infra import config
from infra.errors import ConfigError, key_path
from infra.plan import Plan, kubernetes_objects
from infra.stackfile import to_engine_config
from tests.conftest import PROJECT, run_config, stack_config
from tests.crd_schemas import errors as crd_errors

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-4a7b-8c9d-0e1f2a3b4c5d"
LISTENER, RULE, TG = "aws:lb/listener:Listener", "aws:lb/listenerRule:ListenerRule", "aws:lb/targetGroup:TargetGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ALARM, TOPIC = "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:sns/topic:Topic"
SCORER = {"name": "scorer", "runtime": "triton", "resources": {"cpu": 2, "memory": "4Gi"},
          "model": {"uri": "s3://mlinfra-eks-prod-us-east-1-artifacts/models/scorer", "version": "1"}}


def eks_prod(**ranker) -> dict:
    """eks-prod with its ranker changed; a gRPC ranker loses its slo (refused on gRPC)."""
    values = stack_config("eks-prod")
    if ranker.get("protocol") == "grpc":
        values["mlinfra:services"][0].pop("slo")
    values["mlinfra:services"][0].update(ranker)
    return values


def planned(values: dict):
    rec = run_config(values, stack="eks-prod")
    plan = Plan("eks-prod", "stacks/Pulumi.eks-prod.yaml", values, rec, 0.0, [])
    return rec, plan


def objects(plan, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in kubernetes_objects(plan) if o["kind"] == kind}


def errors_of(values: dict) -> dict[str, str]:
    engine_values, _ = to_engine_config(values)
    with pytest.raises(ConfigError) as caught:
        config.load(engine_values, stack="eks-prod", file="stacks/Pulumi.eks-prod.yaml", root=PROJECT.root)
    return {key_path(i.path): i.message for i in caught.value.issues}


def test_a_grpc_ranker_gets_an_https_listener_grpc_target_groups_and_a_rule_taking_every_call():
    rec, plan = planned(eks_prod(protocol="grpc", certificateArn=CERT))
    lb = rec.one("aws:lb/loadBalancer:LoadBalancer")
    listeners = {r.name: r for r in rec.of_type(LISTENER)}
    assert sorted(listeners) == ["mlinfra-alb-http", "mlinfra-alb-https"]
    https = listeners["mlinfra-alb-https"].inputs
    assert (https["loadBalancerArn"], https["port"], https["protocol"], https["certificateArn"], https["sslPolicy"]) == (
        lb.outputs["arn"], 443, "HTTPS", CERT, "ELBSecurityPolicy-TLS13-1-2-2021-06")
    assert https["defaultActions"][0]["fixedResponse"]["statusCode"] == "404"
    # 443 is open to the VPC's range only, as 80 is; the ALB reaches the pods on Triton's gRPC port only.
    sg = rec.one("aws:ec2/securityGroup:SecurityGroup", "mlinfra-alb-sg")
    ingress = {r.name: r.inputs for r in rec.of_type(INGRESS_RULE)}
    opened = ingress["mlinfra-alb-https-from-vpc"]
    assert (opened["securityGroupId"], opened["fromPort"], opened["toPort"], opened["cidrIpv4"]) == (
        sg.id, 443, 443, "10.70.0.0/16")
    assert sorted(n for n in ingress if "pods-from-alb" in n) == ["mlinfra-alb-pods-from-alb-8001"]

    groups = {r.name: r for r in rec.of_type(TG)}
    assert sorted(groups) == ["mlinfra-svc-ranker-canary-tg", "mlinfra-svc-ranker-stable-tg"]
    for track in ("stable", "canary"):
        tg = groups[f"mlinfra-svc-ranker-{track}-tg"].inputs
        assert tg["name"] == f"eks-prod-ranker-{track}-8001"
        assert (tg["port"], tg["protocol"], tg["protocolVersion"], tg["targetType"]) == (8001, "HTTP", "GRPC", "ip")
        assert tg["healthCheck"] == {"enabled": True, "path": "/grpc.health.v1.Health/Check", "port": "traffic-port",
                                     "protocol": "HTTP", "matcher": "0", "interval": 15, "timeout": 5,
                                     "healthyThreshold": 2, "unhealthyThreshold": 2}
    [rule] = rec.of_type(RULE)
    assert rule.inputs["listenerArn"] == listeners["mlinfra-alb-https"].outputs["arn"]
    assert rule.inputs["priority"] == rule_priority("ranker")
    assert rule.inputs["conditions"] == [{"pathPattern": {"values": ["/*"]}}]
    assert [(g["arn"], g["weight"]) for g in rule.inputs["actions"][0]["forward"]["targetGroups"]] == [
        (groups["mlinfra-svc-ranker-stable-tg"].outputs["arn"], 90), (groups["mlinfra-svc-ranker-canary-tg"].outputs["arn"], 10)]

    bindings = objects(plan, "TargetGroupBinding")
    assert bindings["ranker-stable"]["spec"] == {"serviceRef": {"name": "ranker-stable", "port": 80}, "targetType": "ip",
                                                 "targetGroupARN": groups["mlinfra-svc-ranker-stable-tg"].outputs["arn"]}
    service = objects(plan, "Service")["ranker-stable"]
    assert service["spec"]["ports"] == [{"name": "grpc", "port": 80, "targetPort": "grpc", "protocol": "TCP",
                                         "appProtocol": "kubernetes.io/h2c"}]
    deployment = objects(plan, "Deployment")["ranker-stable"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"][0] == {"name": "grpc", "containerPort": 8001, "protocol": "TCP"}
    assert container["readinessProbe"]["grpc"] == {"port": 8001}
    assert not objects(plan, "Ingress")
    for obj in (service, deployment):
        kubernetes_validate.validate(obj, "1.33.0", strict=True)
    for binding in bindings.values():
        assert crd_errors(binding) == []
    assert rec.outputs["services"]["ranker"]["port"] == 443 and "path" not in rec.outputs["services"]["ranker"]


def test_a_server_without_grpc_health_is_checked_on_the_albs_grpc_default():
    values = eks_prod(protocol="grpc", certificateArn=CERT, runtime="tfserving", resources={"cpu": 2, "memory": "4Gi"},
                      rollout={})
    values["mlinfra:services"][0].pop("logging")  # the stock tfserving image cannot log
    rec, _ = planned(values)
    [tg] = rec.of_type(TG)
    assert (tg.inputs["port"], tg.inputs["protocolVersion"]) == (8500, "GRPC")
    assert (tg.inputs["healthCheck"]["path"], tg.inputs["healthCheck"]["matcher"]) == ("/AWS.ALB/healthcheck", "12")


def test_an_http_ranker_keeps_the_http_listener_its_prefix_and_no_443():
    rec, _ = planned(stack_config("eks-prod"))
    assert [r.name for r in rec.of_type(LISTENER)] == ["mlinfra-alb-http"]
    assert not [r for r in rec.of_type(INGRESS_RULE) if r.inputs["fromPort"] == 443]
    tg = rec.one(TG, "mlinfra-svc-ranker-stable-tg").inputs
    assert "protocolVersion" not in tg and tg["healthCheck"]["matcher"] == "200"
    assert tg["healthCheck"]["path"] == "/v2/health/ready"
    rule = rec.one(RULE).inputs
    assert rule["listenerArn"] == rec.one(LISTENER).outputs["arn"]
    assert rule["conditions"] == [{"pathPattern": {"values": ["/ranker", "/ranker/*"]}}]


def test_a_grpc_server_has_no_objectives_and_the_http_one_beside_it_keeps_its_alarms():
    values = eks_prod(protocol="grpc", certificateArn=CERT)
    values["mlinfra:services"].append(SCORER)
    rec, _ = planned(values)
    # Prod gives the http scorer availability 99.5 %; the gRPC ranker gets no objectives, only its GPU
    # alarms (and its drift alarm, tests/components/aws/test_eks_request_logging.py's).
    assert sorted(a.inputs["name"] for a in rec.of_type(ALARM) if "gpu" not in a.inputs["name"]
                  and not a.inputs["name"].endswith("-drift")) == [
        f"mlinfra-eks-prod-scorer-availability-{s}-{w}" for s in ("fast", "slow") for w in ("long", "short")]
    assert sorted(a.inputs["name"] for a in rec.of_type(ALARM) if "gpu" in a.inputs["name"]) == [
        "mlinfra-eks-prod-ranker-gpu-idle", "mlinfra-eks-prod-ranker-gpu-memory"]
    rules = {r.name: r.inputs for r in rec.of_type(RULE)}
    listeners = {r.name: r.outputs["arn"] for r in rec.of_type(LISTENER)}
    assert rules["mlinfra-svc-ranker-rule"]["listenerArn"] == listeners["mlinfra-alb-https"]
    assert rules["mlinfra-svc-scorer-rule"]["listenerArn"] == listeners["mlinfra-alb-http"]
    assert rules["mlinfra-svc-scorer-rule"]["conditions"] == [{"pathPattern": {"values": ["/scorer", "/scorer/*"]}}]
    assert sorted(n for n in {r.name for r in rec.of_type(INGRESS_RULE)} if "pods-from-alb" in n) == [
        "mlinfra-alb-pods-from-alb-8000", "mlinfra-alb-pods-from-alb-8001"]


def test_a_prod_stack_serving_only_grpc_has_no_alarms_and_needs_no_one_notified():
    values = eks_prod(protocol="grpc", certificateArn=CERT)
    values["mlinfra:alerts"] = {"gpuMetrics": False}  # the ranker's GPU alarms would notify
    drift = values["mlinfra:services"][0].pop("logging")  # and so would its drift alarm
    rec, _ = planned(values)
    assert not rec.of_type(ALARM) and not rec.of_type(TOPIC) and "alerts_topic" not in rec.outputs
    # An http server beside it alarms, so someone must be notified again; so do the GPU alarms.
    values["mlinfra:services"].append(SCORER)
    assert list(errors_of(values)) == ["mlinfra:alerts"]
    values["mlinfra:services"].pop()
    values["mlinfra:services"][0]["logging"] = drift
    assert list(errors_of(values)) == ["mlinfra:alerts"]
    values["mlinfra:services"][0].pop("logging")
    del values["mlinfra:alerts"]
    assert list(errors_of(values)) == ["mlinfra:alerts"]


def test_slo_on_a_grpc_server_is_refused_naming_the_key():
    found = errors_of(eks_prod(protocol="grpc", certificateArn=CERT, slo={"availability": 99.9}))
    assert list(found) == ["mlinfra:services[0].slo"] and "grpc-status" in found["mlinfra:services[0].slo"]


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


def test_the_component_refuses_a_path_prefix_for_a_grpc_server():
    import pulumi_kubernetes as k8s

    from components.aws.eks.eks_model_server import EksModelServer, EksModelServerArgs
    from components.aws.eks.eks_service_spec import EksServiceSpec
    from components.core.issues import InputError
    from tests.conftest import run_component

    spec = EksServiceSpec.model_validate({"name": "tfs", "runtime": "tfserving", "protocol": "grpc",
                                          "certificateArn": CERT, "resources": {"cpu": 1, "memory": "2Gi"},
                                          "model": {"uri": "s3://art/models/tfs", "version": "2"}})

    def program():
        EksModelServer("srv", EksModelServerArgs(
            spec=spec, namespace="ml-tfs", provider=k8s.Provider("k8s"), cluster_name="c", region="us-east-1",
            environment="dev", path_prefix="/tfs"))

    with pytest.raises(InputError, match="pathPrefix: a gRPC call's path is its method") as caught:
        run_component(program)
    # Beside the bucket a model-loading server needs, which this call leaves out too.
    assert "2 invalid input" in str(caught.value) and "model: needs the artifact bucket" in str(caught.value)
