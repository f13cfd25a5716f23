"""Rules that couple sections of a stack file, each run by the patterns that create the coupling.

A spec's own rules sit beside the spec (components/...); these need two sections at once: a
workload's GPU and spot placement against the cluster's pools, a model's URI against the stack's
artifact bucket, the names the cluster component gives GKE. Each is `(config, ctx) -> issues`
with paths from the top of the `mlinfra:` namespace, given the pattern that runs it. No provider import.
"""

from __future__ import annotations

from typing import Any

from components.aws.eks.eks_cluster_spec import offered_gpus as eks_offered_gpus
from components.aws.eks.eks_cluster_spec import spot_pools as eks_spot_pools
from components.aws.eks.eks_service_spec import rule_priority
from components.aws.storage.s3_storage_spec import bucket_names as s3_bucket_names
from components.core.issues import Issue
from components.core.spec import Context
from components.gcp.cloudrun.cloud_run_service_spec import cloud_run_service_name
from components.gcp.functions.cloud_function_spec import function_name
from components.gcp.gke.cluster_spec import cluster_name_issues, offered_gpus, spot_pools
from components.gcp.gke.pod_fit import blocking_taints, pod_fit_issues
from components.gcp.storage.names import bucket_name_issues
from components.gcp.storage.storage_spec import bucket_names
from infra.platforms.registry import PLATFORMS

ROOT = "mlinfra"
"""The name of every pattern's top component; children are named from it."""
CLUSTER = f"{ROOT}-gke"
"""The resource name of the stack's GKE cluster component (its pools are `<CLUSTER>-<pool>`)."""


def on_cluster(workloads: Any) -> list[tuple[int, Any]]:
    """(index, workload) of the services or jobs that run on the stack's cluster: those on a
    platform that needs one (an AWS stack's jobs have no platform: all run on its cluster)."""
    return [(i, w) for i, w in enumerate(workloads)
            if not hasattr(w, "platform") or PLATFORMS[w.platform].needs_cluster]


def cluster_needed(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """A cluster section when the pattern requires one or a workload runs on it."""
    needs = on_cluster(config.services) + on_cluster(config.jobs)
    if config.cluster is None and (pattern.requires_cluster or needs):
        serverless = [p for p in pattern.platforms if not PLATFORMS[p].needs_cluster]
        return [Issue(("cluster",), f"the {config.pattern} pattern needs a cluster for its services and jobs on "
                      f"{' or '.join(p for p in pattern.platforms if PLATFORMS[p].needs_cluster)}",
                      fix="add mlinfra:cluster with at least one entry in nodePools (see the README example)"
                          + (f", or set `platform: {serverless[0]}` on them (the default is {pattern.default_platform})"
                             if serverless and not pattern.requires_cluster else ""))]
    return []


def gateway_has_servers(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """`cluster.gateway` set while no service runs on the cluster: no Gateway is built to apply it to."""
    if config.cluster is None or not config.cluster.gateway.model_fields_set or on_cluster(config.services):
        return []
    return [Issue(("cluster", "gateway"), "no service runs on the cluster, so the stack builds no Gateway",
                  fix="remove gateway, or add a service with platform: gke")]


def grpc_through_gateway(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """A gRPC server on GKE sits behind the stack's Gateway on HTTPS, one per Gateway (on EKS, one
    per ALB: its HTTPS listener's rule takes every call).

    gRPC clients reach Google's Application Load Balancers over TLS, where ALPN negotiates HTTP/2
    (the Gateway API's GRPCRoute spec asks h2c with prior knowledge of an HTTP listener, and GKE's
    controller implements no GRPCRoute to promise it): so `cluster.gateway.hostname`. Its calls'
    paths are their methods, so its route takes the hostname's calls unprefixed: a second gRPC
    server would take the same paths."""
    if config.cluster is None:
        return []
    grpc = [(i, s) for i, s in on_cluster(config.services) if getattr(s, "platform", None) in ("gke", "eks")
            and s.protocol == "grpc"]
    issues = []
    if grpc and grpc[0][1].platform == "gke" and not config.cluster.gateway.https:
        i, s = grpc[0]
        issues.append(Issue(("services", i, "protocol"), "a gRPC server on GKE is reached through the stack's Gateway "
                            "over HTTPS (gRPC clients negotiate HTTP/2 with the load balancer by TLS), but the Gateway "
                            "serves plain HTTP", s.protocol,
                            fix="set mlinfra:cluster.gateway.hostname (a managed certificate is created for it), or "
                                "protocol: http"))
    where = "Gateway" if grpc and grpc[0][1].platform == "gke" else "ALB"
    issues += [Issue(("services", i, "protocol"), f"a second gRPC server on the {where}: {grpc[0][1].name} already "
                     "takes its gRPC calls (their paths are their methods, so they cannot be split by prefix)",
                     s.protocol, fix="serve one gRPC server per stack (Triton serves many models), or set protocol: "
                                     "http on this one")
               for i, s in grpc[1:]]
    return issues


def gke_names_fit(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """GKE's 40-character names for the cluster and its pools, as the cluster component derives them."""
    if config.cluster is None:
        return []
    return [i.under("cluster") for i in cluster_name_issues(CLUSTER, config.cluster)]


def placement_on_pools(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """A cluster workload must fit some node: its GPU type offered, a spot pool when it requires one."""
    cluster = config.cluster
    if cluster is None:
        return []
    workloads = [(("services", i), s) for i, s in on_cluster(config.services)]
    workloads += [(("jobs", i), j) for i, j in on_cluster(config.jobs)]
    offered = offered_gpus(cluster)
    issues = []
    for where, workload in workloads:
        if getattr(workload, "queued", None) is not None:
            continue  # queued_couplings places it on its pool
        gpu = workload.resources.gpu
        if gpu is not None and gpu.type not in offered:
            queued = [p.name for p in cluster.node_pools if p.queued_provisioning and p.gpu and p.gpu.type == gpu.type]
            issues.append(Issue(where + ("resources", "gpu", "type"), "no node pool (nor auto-provisioning) offers this GPU"
                                + (f" (queued pool {queued[0]} takes only jobs with `queued`)" if queued else ""),
                                gpu.type, allowed=", ".join(sorted(offered)) or "no GPU at all",
                                fix=f"add a node pool with gpu: {{type: {gpu.type}}}, or use an offered type"
                                    + (f", or (a job) set `queued: {{pool: {queued[0]}}}`" if queued and where[0] == "jobs" else "")))
        if workload.placement.spot == "require" and not spot_pools(cluster):
            issues.append(Issue(where + ("placement", "spot"), "requires spot nodes, but no node pool is spot", "require",
                                allowed="never, prefer", fix="add a node pool with `spot: true`, or use prefer"))
    return issues


def models_in_artifact_bucket(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """Model-loading services mount their model from the stack's artifact bucket."""
    artifacts = bucket_names(config.storage, ctx.project, ctx.stack)["artifacts"]
    if bucket_name_issues(artifacts):
        return []  # the bucket's own name is wrong (storage.artifacts.name says so): a model URI cannot match it yet
    issues = []
    for i, service in enumerate(config.services):
        model = service.model
        if model is None or model.is_hf:
            continue
        if model.external and model.bucket == artifacts:
            issues.append(Issue(("services", i, "model", "external"), "the URI is in the stack's own artifact bucket",
                                fix="remove external"))
        elif not model.external and model.bucket != artifacts:
            issues.append(Issue(("services", i, "model", "uri"), "is not in the stack's artifact bucket", model.uri,
                                allowed=f"gs://{artifacts}/<path>; another bucket of yours with external: true; "
                                        "hf://<org>/<model> (runtime vllm)",
                                fix=f"upload the model there and set uri: gs://{artifacts}/<path>, or set "
                                    "external: true to read it where it is"))
    return issues


def network_fits_cluster(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """A cluster needs a VPC with its secondary ranges, and the Gateway a proxy-only subnet."""
    network, cluster = config.network, config.cluster
    if cluster is None:
        return []
    if network.egress == "none":
        return [Issue(("network", "egress"), "`none` leaves the cluster without a VPC", "none",
                      allowed="privateRangesOnly, allTraffic", fix="remove `egress: none` (GKE nodes need a VPC)")]
    existing = network.existing
    if existing is None:
        return []
    issues = [Issue(("network", "existing", key), "is needed: the cluster's pods and services use the subnet's "
                    "secondary ranges", fix=f"name the range of {existing.subnet} for {what}")
              for key, what, value in (("podsRange", "pods", existing.pods_range),
                                       ("servicesRange", "services", existing.services_range)) if value is None]
    on_gke = [s for s in config.services if PLATFORMS[s.platform].needs_cluster]
    if on_gke and not existing.proxy_only_subnet:
        issues.append(Issue(("network", "existing", "proxyOnlySubnet"), "the GKE Gateway's internal load balancer needs "
                            "a proxy-only subnet in the region, which mlinfra cannot create in a VPC it does not own",
                            False, fix=f"create one in {existing.network} (purpose REGIONAL_MANAGED_PROXY) and set "
                                       "proxyOnlySubnet: true"))
    return issues


def workloads_fit_pools(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """Each cluster pod must fit, whole, the allocatable CPU, memory and GPUs of some node pool it
    may be scheduled on (its GPU type, its spot placement, no taint it does not tolerate);
    otherwise it stays Pending and `pulumi up` waits on its Deployment or Job until it times out.
    Not checked with node auto-provisioning, which creates pools to fit."""
    cluster = config.cluster
    if cluster is None or cluster.auto_provisioning.enabled or not cluster.node_pools:
        return []
    workloads = [(("services", i), s, s.model is not None) for i, s in on_cluster(config.services)]
    workloads += [(("jobs", i), j, False) for i, j in on_cluster(config.jobs)]
    issues: list[Issue] = []
    offered = offered_gpus(cluster)
    for where, workload, fuse in workloads:
        if getattr(workload, "queued", None) is not None:
            continue  # queued_couplings fits it to its pool
        gpu, spot = workload.resources.gpu, workload.placement.spot
        if (gpu is not None and gpu.type not in offered) or (spot == "require" and not spot_pools(cluster)):
            continue  # placement_on_pools says so
        issues += [i.under(*where) for i in pod_fit_issues(workload.resources, spot, cluster.node_pools, fuse)]
    return issues


def system_pods_have_a_pool(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """GKE's own pods (kube-dns, metrics-server, konnectivity) and mlinfra's add-ons tolerate no
    GPU, spot or custom taint: with every pool tainted they stay Pending and the cluster never
    becomes usable. Auto-provisioning creates an untainted pool for them."""
    cluster = config.cluster
    if cluster is None or cluster.auto_provisioning.enabled or not cluster.node_pools:
        return []
    if any(not blocking_taints(pool) for pool in cluster.node_pools):
        return []
    names = ", ".join(f"{p.name} ({', '.join(blocking_taints(p))})" for p in cluster.node_pools)
    return [Issue(("cluster", "nodePools"), "every node pool is tainted, so GKE's system pods (kube-dns, "
                  "metrics-server) and mlinfra's add-ons have no node to run on", names,
                  allowed="at least one on-demand pool without GPUs or NoSchedule/NoExecute taints",
                  fix="add a small pool, e.g. `- {name: system, machineType: e2-standard-2, autoscaling: {min: 1, max: 2}}`")]


def serverless_names_unique(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """A function runs as a Cloud Run service of its own name: a trigger and a Cloud Run service
    whose derived names meet collide in the region (the second deploy fails: it exists)."""
    services: dict[str, int] = {}
    issues = []
    for i, s in enumerate(config.services):
        if s.platform != "cloudrun":
            continue
        name = cloud_run_service_name(s.name, ctx.stack, s.service_name)
        if name in services and config.services[services[name]].name != s.name:  # same name: reported as a duplicate
            issues.append(Issue(("services", i, "serviceName" if s.service_name else "name"),
                                f"the Cloud Run service would be {name}, which services[{services[name]}] already is",
                                s.service_name or s.name, fix="give each service its own name"))
        services.setdefault(name, i)
    for i, trigger in enumerate(config.triggers):
        name = function_name(trigger.name, ctx.stack)
        if name in services:
            issues.append(Issue(("triggers", i, "name"), f"the function would be Cloud Run service {name}, which "
                                f"services[{services[name]}] already is (they share one namespace per region)",
                                trigger.name, fix="give the trigger or the service another name"))
    return issues


def prod_alerts_go_somewhere(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """A prod service's burn-rate alerts, a prod pipeline's and a prod event chain's must reach someone."""
    chains = any(t.run is not None for t in config.triggers)
    if ctx.prod and (config.services or config.pipelines or chains) and not config.alerts.any:
        return [Issue(("alerts",), "a prod stack's services, pipelines and event chains alert when they burn their "
                      "error budget, fail or fall behind, but no channel is named", fix="add `mlinfra:alerts: {emails: [oncall@acme.example]}` or "
                                      "`channels: [projects/<project>/notificationChannels/<id>]`")]
    return []


def eks_prod_alerts_go_somewhere(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """A prod AWS stack's services have burn-rate alarms (availability 99.5 % at least), and its GPU
    servers GPU alarms (with the CloudWatch Observability add-on), its drift jobs a drift alarm: someone
    must be notified. A gRPC server has no objectives (its slo is refused, prod gives it no default),
    so a stack serving only gRPC without GPU or drift alarms needs no one."""
    gpu_pools = config.cluster is not None and any(p.gpu is not None for p in config.cluster.node_pools)
    gpus = config.alerts.gpu_metrics_on(prod=ctx.prod, gpu_pools=gpu_pools, alerted=False) and any(
        s.resources.gpu is not None for s in config.services) or any(
        getattr(s, "logging", None) is not None and s.logging.drift is not None and s.logging.drift.alerts(ctx.prod)
        for s in config.services)
    if ctx.prod and (gpus or any(s.protocol != "grpc" for s in config.services)) and not config.alerts.any:
        return [Issue(("alerts",), "a prod stack's services alarm when they burn their error budget, idle their "
                      "GPUs or drift, but nobody is notified", fix="add `mlinfra:alerts: {emails: [oncall@acme.example]}`, `httpsEndpoints: "
                      "[https://<webhook>]` or `topics: [arn:aws:sns:<region>:<account>:<topic>]`")]
    return []


def eks_listener_rules_unique(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """Two servers' listener rules on the stack's ALB need different priorities (derived from their names)."""
    seen: dict[int, int] = {}
    issues = []
    for i, s in enumerate(config.services):
        p = rule_priority(s.name)
        if p in seen:
            issues.append(Issue(("services", i, "name"), f"its load-balancer rule priority ({p}, derived from the name) "
                                f"is services[{seen[p]}]'s too", s.name, fix="rename one of the two services"))
        seen.setdefault(p, i)
    return issues


def pipeline_models_in_artifact_bucket(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """A scoring pipeline loads its model from the stack's artifact bucket, as services do."""
    artifacts = bucket_names(config.storage, ctx.project, ctx.stack)["artifacts"]
    return [Issue(("pipelines", i, "model", "uri"), "is not in the stack's artifact bucket", p.model.uri,
                  allowed=f"gs://{artifacts}/<path>", fix=f"upload the model there and set uri: gs://{artifacts}/<path>")
            for i, p in enumerate(config.pipelines) if p.model is not None and p.model.bucket != artifacts]


def pipeline_topics_and_tables(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """No two pipelines write one table (its schema and partitioning are declared once). A
    trigger on a pipeline's topic shares the topic the pipelines create."""
    issues = []
    tables: dict[tuple[str, str], int] = {}
    for i, p in enumerate(config.pipelines):
        bq = p.sink.bigquery
        if bq is not None:
            if (bq.dataset, bq.table) in tables:
                issues.append(Issue(("pipelines", i, "sink", "bigquery", "table"),
                                    f"is already the sink of pipelines[{tables[(bq.dataset, bq.table)]}]",
                                    f"{bq.dataset}.{bq.table}", fix="give each pipeline its own table"))
            tables.setdefault((bq.dataset, bq.table), i)
    return issues


def workers_have_a_network(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """Dataflow workers run on private IPs in the stack's subnet: `egress: none` leaves them none."""
    if config.network.egress == "none" and config.pipelines:
        return [Issue(("network", "egress"), "`none` leaves the pipelines' workers without a subnet", "none",
                      allowed="privateRangesOnly, allTraffic", fix="remove `egress: none` (workers run on private IPs)")]
    return []


def eks_placement_on_pools(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """On EKS: a workload's GPU type offered by some node group, a spot group when it requires one."""
    cluster = config.cluster
    if cluster is None:
        return []
    workloads = [(("services", i), s) for i, s in enumerate(config.services)] + \
        [(("jobs", i), j) for i, j in enumerate(config.jobs)]
    offered = eks_offered_gpus(cluster)
    issues = []
    for where, workload in workloads:
        gpu = workload.resources.gpu
        if gpu is not None and gpu.type not in offered:
            issues.append(Issue(where + ("resources", "gpu", "type"), "no node pool offers this GPU", gpu.type,
                                allowed=", ".join(sorted(offered)) or "no GPU at all",
                                fix=f"add a node pool with gpu: {{type: {gpu.type}}}, or use an offered type"))
        if workload.placement.spot == "require" and not eks_spot_pools(cluster):
            issues.append(Issue(where + ("placement", "spot"), "requires spot nodes, but no node pool is spot", "require",
                                allowed="never, prefer", fix="add a node pool with `spot: true`, or use prefer"))
        if gpu is not None and gpu.type in offered and workload.placement.spot == "never" and not any(
                p.gpu is not None and p.gpu.type == gpu.type and (not p.spot or p.on_demand_fallback)
                for p in cluster.node_pools):
            issues.append(Issue(where + ("placement", "spot"), f"no on-demand node pool has {gpu.type} GPUs", "never",
                                allowed="prefer, require", fix="add an on-demand pool with this GPU (with Karpenter, "
                                "`onDemandFallback: true` on the spot pool), or tolerate spot"))
    return issues


def models_in_s3_artifact_bucket(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """On AWS, model-loading services sync their model from the stack's S3 artifact bucket."""
    artifacts = s3_bucket_names(config.storage, ctx.stack, ctx.region)["artifacts"]
    return [Issue(("services", i, "model", "uri"), "is not in the stack's artifact bucket", s.model.uri,
                  allowed=f"s3://{artifacts}/<path>", fix=f"upload the model there and set uri: s3://{artifacts}/<path>")
            for i, s in enumerate(config.services) if s.model is not None and s.model.bucket != artifacts]


def run_targets_exist(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """A trigger's `run` names a job, a batch pipeline or a service of this stack; a rollout
    proposal watches that service's model path in the artifact bucket."""
    issues: list[Issue] = []
    jobs = [j.name for j in getattr(config, "jobs", [])]
    pipelines = {p.name: p for p in getattr(config, "pipelines", [])}
    services = {s.name: s for s in config.services}
    for i, trigger in enumerate(config.triggers):
        run = trigger.run
        if run is None or run.kind is None:
            continue  # no run, or its own rule reports the shape
        where = ("triggers", i, "run")
        if run.job is not None and run.job not in jobs:
            issues.append(_missing(where + ("job",), "job", run.job, jobs, "jobs", pattern))
        if run.pipeline is not None:
            if run.pipeline not in pipelines:
                issues.append(_missing(where + ("pipeline",), "pipeline", run.pipeline, list(pipelines), "pipelines", pattern))
            elif pipelines[run.pipeline].mode != "batch":
                issues.append(Issue(where + ("pipeline",), "is a streaming pipeline: it runs all the time, nothing "
                                    "starts it", run.pipeline, allowed="a batch pipeline",
                                    fix="name a batch pipeline, or remove the trigger"))
        propose = run.propose_rollout
        if propose is None:
            continue
        service = services.get(propose.service)
        if service is None:
            issues.append(_missing(where + ("proposeRollout", "service"), "service", propose.service, list(services),
                                   "services", pattern))
            continue
        model = getattr(service, "model", None)
        if model is None:
            issues.append(Issue(where + ("proposeRollout", "service"), "serves an image without a model: there is no "
                                "model version to propose", propose.service, fix="give the service a model: {uri, version}"))
            continue
        path = model.uri.split("/", 3)[3].rstrip("/") + "/" if model.uri.count("/") >= 3 else ""
        storage = trigger.on.storage
        if storage is not None and (storage.bucket != "artifacts" or storage.prefix != path):
            issues.append(Issue(("triggers", i, "on", "storage"), f"must watch the service's versions, "
                                f"artifacts under {path}", f"{storage.bucket} under {storage.prefix or '(everything)'}",
                                fix=f"set bucket: artifacts and prefix: {path}"))
    return issues


def _missing(key: tuple, what: str, name: str, names: list[str], section: str, pattern: Any) -> Issue:
    if not names:
        have = section in pattern.sections
        return Issue(key, f"names a {what}, and the stack has no mlinfra:{section}", name,
                     fix=f"add it under mlinfra:{section}" if have else
                     f"the {pattern.name} pattern has no {section}: remove the trigger's run")
    return Issue(key, f"is not a {what} of this stack", name, allowed=", ".join(names), fix=f"use one of: {', '.join(names)}")


def feature_store_has_a_network(config: Any, ctx: Context, pattern: Any) -> list[Issue]:
    """A Memorystore online store lives on the stack's VPC: `egress: none` leaves it none."""
    store = config.feature_store
    if store is None or store.online.type != "redis" or config.network.egress != "none":
        return []
    return [Issue(("featureStore", "online", "type"), "Memorystore is reachable only on the stack's VPC, and "
                  "`network.egress: none` creates none", "redis", allowed="bigtable, or a network",
                  fix="set `online: {type: bigtable}`, or remove `egress: none` from mlinfra:network")]
