"""Objectives and alerts on AWS (eks-prod): the stack's internal ALB, owned by Pulumi, whose target
groups the servers' TargetGroupBindings fill; the KMS-encrypted SNS topic with the subscriptions
`mlinfra:alerts` names; and per objective two metric-math alarms per burn rate (long and short
window) under a composite alarm that notifies. The stack-file rules of `slo` and `alerts` on
AWS, by key."""

from __future__ import annotations

import copy
import json

import pytest

from components.aws.eks.eks_service_spec import rule_priority
from components.kubernetes.serving import SERVICE_PORT
from infra.errors import ConfigError, key_path
from infra.plan import Plan, kubernetes_objects
from tests.conftest import PROJECT, run_config, run_stack, stack_config
from infra import config
from infra.stackfile import to_engine_config

STACK, ACCOUNT, REGION = "eks-prod", "123456789012", "us-east-1"
ALARM, COMPOSITE = "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/compositeAlarm:CompositeAlarm"
TG, TOPIC = "aws:lb/targetGroup:TargetGroup", "aws:sns/topic:Topic"
PREFIX = "mlinfra-eks-prod"


def errors_of(values: dict, stack: str = STACK) -> dict[str, str]:
    engine_values, _ = to_engine_config(values)
    with pytest.raises(ConfigError) as caught:
        config.load(engine_values, stack=stack, file=f"stacks/Pulumi.{stack}.yaml", root=PROJECT.root)
    return {key_path(i.path): i.message for i in caught.value.issues}


def suffixes(rec) -> dict[str, str]:
    return {r.name: r.outputs["arnSuffix"] for r in rec.of_type(TG)}


def test_the_alb_is_internal_in_the_private_subnets_reachable_from_the_vpc_only_and_protected_in_prod():
    rec = run_stack(STACK)
    lb = rec.one("aws:lb/loadBalancer:LoadBalancer")
    assert lb.inputs["internal"] is True and lb.inputs["loadBalancerType"] == "application"
    assert lb.inputs["name"] == PREFIX and lb.inputs["dropInvalidHeaderFields"] is True
    assert lb.inputs["enableDeletionProtection"] is True and lb.protect and lb.delete_before_replace
    private = sorted(s.id for s in rec.of_type("aws:ec2/subnet:Subnet") if "private" in s.name)
    assert sorted(lb.inputs["subnets"]) == private
    sg = rec.one("aws:ec2/securityGroup:SecurityGroup", "mlinfra-alb-sg")
    assert lb.inputs["securityGroups"] == [sg.id]
    ingress = {r.name: r.inputs for r in rec.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")}
    assert ingress["mlinfra-alb-from-vpc"] == {"securityGroupId": sg.id, "ipProtocol": "tcp", "fromPort": 80, "toPort": 80,
                                               "cidrIpv4": "10.70.0.0/16", "description": "callers in the VPC",
                                               "tags": ingress["mlinfra-alb-from-vpc"]["tags"]}
    cluster_sg = rec.one("aws:eks/cluster:Cluster").outputs["vpcConfig"]["clusterSecurityGroupId"]
    # The pods (on the nodes' cluster security group) accept the ALB on Triton's HTTP port, and only it.
    pods = ingress["mlinfra-alb-pods-from-alb-8000"]
    assert (pods["securityGroupId"], pods["referencedSecurityGroupId"], pods["fromPort"], pods["toPort"]) == (
        cluster_sg, sg.id, 8000, 8000)
    [egress] = rec.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert (egress.inputs["referencedSecurityGroupId"], egress.inputs["fromPort"]) == (cluster_sg, 8000)
    listener = rec.one("aws:lb/listener:Listener").inputs
    assert (listener["port"], listener["protocol"]) == (80, "HTTP")
    assert listener["defaultActions"][0]["fixedResponse"]["statusCode"] == "404"
    assert rec.outputs["load_balancer"].startswith("internal-mlinfra-eks-prod-")


def test_each_track_has_a_target_group_its_binding_fills_and_the_rule_splits_by_the_canary_weight():
    rec = run_stack(STACK)
    groups = {r.name: r for r in rec.of_type(TG)}
    assert sorted(groups) == ["mlinfra-svc-ranker-canary-tg", "mlinfra-svc-ranker-stable-tg"]
    stable = groups["mlinfra-svc-ranker-stable-tg"].inputs
    assert stable["name"] == "eks-prod-ranker-stable-8000" and len(stable["name"]) <= 32
    assert (stable["port"], stable["protocol"], stable["targetType"]) == (8000, "HTTP", "ip")
    assert stable["vpcId"] == rec.one("aws:ec2/vpc:Vpc").id
    assert stable["healthCheck"]["path"] == "/v2/health/ready" and stable["healthCheck"]["matcher"] == "200"
    assert stable["deregistrationDelay"] == 30  # the pods' grace period
    plan = Plan(STACK, f"stacks/Pulumi.{STACK}.yaml", stack_config(STACK), rec, 0.0, [])
    bindings = {o["metadata"]["name"]: o for o in kubernetes_objects(plan) if o["kind"] == "TargetGroupBinding"}
    for track in ("stable", "canary"):
        binding = bindings[f"ranker-{track}"]
        assert binding["apiVersion"] == "elbv2.k8s.aws/v1beta1" and binding["metadata"]["namespace"] == "ml-ranker"
        assert binding["spec"] == {"serviceRef": {"name": f"ranker-{track}", "port": SERVICE_PORT}, "targetType": "ip",
                                   "targetGroupARN": groups[f"mlinfra-svc-ranker-{track}-tg"].outputs["arn"]}
    rule = rec.one("aws:lb/listenerRule:ListenerRule").inputs
    assert rule["listenerArn"] == rec.one("aws:lb/listener:Listener").outputs["arn"]
    assert rule["priority"] == rule_priority("ranker")
    assert rule["conditions"] == [{"pathPattern": {"values": ["/ranker", "/ranker/*"]}}]
    forward = rule["actions"][0]["forward"]["targetGroups"]
    assert [(g["arn"], g["weight"]) for g in forward] == [
        (groups["mlinfra-svc-ranker-stable-tg"].outputs["arn"], 90), (groups["mlinfra-svc-ranker-canary-tg"].outputs["arn"], 10)]
    assert not [o for o in kubernetes_objects(plan) if o["kind"] == "Ingress"]


def test_the_alert_topic_is_kms_encrypted_cloudwatch_may_publish_and_the_stack_files_endpoints_subscribe():
    rec = run_stack(STACK)
    topic = rec.one(TOPIC)
    key = rec.one("aws:kms/key:Key", "mlinfra-alerts-key")
    assert topic.inputs["name"] == PREFIX and topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True and key.protect
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    cloudwatch = statements["CloudWatchAlarmsPublish"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cloudwatch["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}, "ArnLike": {
        "aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{PREFIX}-*"}}
    assert statements["AccountAdministers"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    policy = {s["Sid"]: s for s in json.loads(rec.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])["Statement"]}
    assert policy["CloudWatchAlarmsPublish"]["Action"] == "sns:Publish"
    assert policy["CloudWatchAlarmsPublish"]["Condition"] == cloudwatch["Condition"]
    assert policy["DenyPlainHttp"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    subscriptions = sorted((s.inputs["protocol"], s.inputs["endpoint"])
                           for s in rec.of_type("aws:sns/topicSubscription:TopicSubscription"))
    assert subscriptions == [("email", "ml-oncall@acme.example"),
                             ("https", "https://events.pagerduty.com/integration/0123456789abcdef0123456789abcdef/enqueue")]
    assert all(s.inputs["topic"] == topic.outputs["arn"] for s in rec.of_type("aws:sns/topicSubscription:TopicSubscription"))
    assert rec.outputs["alerts_topic"] == topic.outputs["arn"]


def test_each_objective_burns_fast_and_slow_over_two_windows_and_only_the_composite_notifies():
    rec = run_stack(STACK)
    # The ranker's GPU alarms are tests/components/aws/test_gpu_metrics.py's, its drift alarm
    # tests/components/aws/test_eks_request_logging.py's.
    alarms = {r.inputs["name"]: r.inputs for r in rec.of_type(ALARM)
              if "-gpu-" not in r.inputs["name"] and not r.inputs["name"].endswith("-drift")}
    objectives = ("availability", "latency")
    assert sorted(alarms) == sorted(f"{PREFIX}-ranker-{o}-{s}-{w}" for o in objectives for s in ("fast", "slow")
                                    for w in ("long", "short"))
    periods = {"fast-long": (3600, 14.4), "fast-short": (300, 14.4), "slow-long": (21600, 6.0), "slow-short": (1800, 6.0)}
    tgs = suffixes(rec)
    lb = rec.one("aws:lb/loadBalancer:LoadBalancer").outputs["arnSuffix"]
    assert lb.startswith("app/mlinfra-eks-prod/") and all(s.startswith("targetgroup/") for s in tgs.values())
    for name, alarm in alarms.items():
        period, rate = periods[name.rsplit("-", 2)[-2] + "-" + name.rsplit("-", 1)[-1]]
        assert (alarm["threshold"], alarm["comparisonOperator"], alarm["evaluationPeriods"]) == (rate, "GreaterThanThreshold", 1)
        assert alarm["treatMissingData"] == "notBreaching" and alarm["actionsEnabled"] is False
        assert "alarmActions" not in alarm
        metrics = [q["metric"] for q in alarm["metricQueries"] if "metric" in q]
        assert {m["period"] for m in metrics} == {period} and {m["namespace"] for m in metrics} == {"AWS/ApplicationELB"}
        assert {(m["dimensions"]["LoadBalancer"], m["dimensions"]["TargetGroup"]) for m in metrics} == \
            {(lb, tgs["mlinfra-svc-ranker-stable-tg"]), (lb, tgs["mlinfra-svc-ranker-canary-tg"])}
        [watched] = [q for q in alarm["metricQueries"] if q["returnData"]]
        assert watched["id"] == "burn"
    availability = alarms[f"{PREFIX}-ranker-availability-fast-long"]["metricQueries"]
    assert {(q["metric"]["metricName"], q["metric"]["stat"]) for q in availability if "metric" in q} == {
        ("RequestCount", "Sum"), ("HTTPCode_Target_5XX_Count", "Sum")}
    expressions = {q["id"]: q["expression"] for q in availability if "expression" in q}
    assert expressions == {"requests": "FILL(r0, 0) + FILL(r1, 0)", "bad": "FILL(e0, 0) + FILL(e1, 0)",
                           "burn": "IF(requests > 0, bad / requests / 0.001, 0)"}  # 99.9 %: a 0.1 % budget
    latency = alarms[f"{PREFIX}-ranker-latency-slow-short"]["metricQueries"]
    # 99 % within 50 ms: the percent of requests at most 0.05 s, per track, weighted by its requests.
    assert {(q["metric"]["metricName"], q["metric"]["stat"]) for q in latency if "metric" in q} == {
        ("RequestCount", "Sum"), ("TargetResponseTime", "PR(:0.05)")}
    assert {q["id"]: q["expression"] for q in latency if "expression" in q}["bad"] == \
        "FILL(r0, 0) * (100 - FILL(g0, 100)) / 100 + FILL(r1, 0) * (100 - FILL(g1, 100)) / 100"

    topic = rec.one(TOPIC).outputs["arn"]
    composites = {r.inputs["alarmName"]: r.inputs for r in rec.of_type(COMPOSITE)}
    assert sorted(composites) == sorted(f"{PREFIX}-ranker-{o}-{s}" for o in objectives for s in ("fast", "slow"))
    for name, composite in composites.items():
        assert composite["alarmRule"] == f'ALARM("{name}-long") AND ALARM("{name}-short")'
        assert composite["alarmActions"] == [topic] and composite["okActions"] == [topic]
        assert "kubectl -n ml-ranker get pods,hpa" in composite["alarmDescription"]
        assert "percent: 0" in composite["alarmDescription"] and len(composite["alarmDescription"]) <= 1024
    assert "99.9 % of requests without a server error" in composites[f"{PREFIX}-ranker-availability-fast"]["alarmDescription"]


def test_a_prod_service_without_an_slo_still_gets_availability_and_a_dev_one_gets_none():
    values = stack_config(STACK)
    values["mlinfra:services"][0].pop("slo")
    rec = run_config(values, stack=STACK)
    assert sorted(r.inputs["alarmName"] for r in rec.of_type(COMPOSITE)) == [
        f"{PREFIX}-ranker-availability-fast", f"{PREFIX}-ranker-availability-slow"]
    burn = [q for a in rec.of_type(ALARM) for q in a.inputs.get("metricQueries", []) if q["id"] == "burn"][0]
    assert burn["expression"] == "IF(requests > 0, bad / requests / 0.005, 0)"  # 99.5 %
    dev = run_stack("eks-dev")
    assert not dev.of_type(ALARM) and not dev.of_type(TOPIC) and "alerts_topic" not in dev.outputs


def test_a_dev_service_with_an_slo_gets_its_alarms_and_a_topic_nobody_is_subscribed_to_yet():
    values = stack_config("eks-dev")
    values["mlinfra:services"][0]["slo"] = {"availability": 99}
    values["mlinfra:alerts"] = {"topics": [f"arn:aws:sns:{REGION}:{ACCOUNT}:ml-pager"]}
    rec = run_config(values, stack="eks-dev")
    assert len(rec.of_type(ALARM)) == 4 and not rec.of_type("aws:sns/topicSubscription:TopicSubscription")
    topic = rec.one(TOPIC).outputs["arn"]
    for composite in rec.of_type(COMPOSITE):
        assert composite.inputs["alarmActions"] == [topic, f"arn:aws:sns:{REGION}:{ACCOUNT}:ml-pager"]
    assert not rec.one("aws:kms/key:Key", "mlinfra-alerts-key").protect


def test_a_prod_stack_without_anyone_to_notify_fails_naming_alerts():
    values = stack_config(STACK)
    values.pop("mlinfra:alerts")
    assert errors_of(values) == {"mlinfra:alerts": "a prod stack's services alarm when they burn their error budget, "
                                                   "idle their GPUs or drift, but nobody is notified"}


def test_bad_alert_endpoints_and_google_cloud_alert_keys_are_named():
    values = stack_config(STACK)
    values["mlinfra:alerts"] = {"emails": ["oncall"], "httpsEndpoints": ["http://hooks.acme.example/x"],
                                "topics": ["ml-pager"]}
    assert errors_of(values) == {"mlinfra:alerts.emails[0]": "is not an email address",
                                 "mlinfra:alerts.httpsEndpoints[0]": "is not an HTTPS URL",
                                 "mlinfra:alerts.topics[0]": "is not an SNS topic ARN"}
    values["mlinfra:alerts"] = {"channels": ["projects/acme-ml/notificationChannels/1"]}
    assert errors_of(values) == {"mlinfra:alerts.channels": "is a Google Cloud key; an AWS stack (mlinfra:cloud: aws) "
                                                            "does not have it"}


def test_two_services_whose_rule_priorities_collide_fail_naming_the_second():
    names = {}
    n = 0
    while True:  # find two names with one priority (a birthday search over 50,000 values)
        name = f"s{n}"
        if rule_priority(name) in names:
            first, second = names[rule_priority(name)], name
            break
        names[rule_priority(name)] = name
        n += 1
    values = stack_config("eks-dev")
    base = values["mlinfra:services"][0]
    values["mlinfra:services"] = [{**copy.deepcopy(base), "name": first}, {**copy.deepcopy(base), "name": second}]
    for s in values["mlinfra:services"]:
        s["model"]["uri"] = f"s3://mlinfra-eks-dev-us-east-1-artifacts/models/{s['name']}"
    found = errors_of(values, "eks-dev")
    assert list(found) == ["mlinfra:services[1].name"] and "services[0]'s too" in found["mlinfra:services[1].name"]
