"""The guardrails on AWS: EKS and S3, as plain checks over the registered resources.

References: CIS Amazon EKS Benchmark v1.7.0 item numbers ("CIS EKS 5.4.2") and CIS Amazon Web
Services Foundations Benchmark v3.0.0 ("CIS AWS 5.6"), or mlinfra's own. `policy/rules.py`
makes rules of `AWS_RULES`; this module imports nothing of it, so there is no cycle.
"""

from __future__ import annotations

from typing import Any, Iterator

EKS_CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
SUBNET = "aws:ec2/subnet:Subnet"
S3_BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ECR = "aws:ecr/repository:Repository"
KMS_KEY = "aws:kms/key:Key"
REQUIRED_LOGS = ("api", "audit", "authenticator")
_BLOCKS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _of(resources, *types) -> Iterator[Any]:
    return (r for r in resources if r.type in types)


def _private_endpoint(resources, ctx):
    for c in _of(resources, EKS_CLUSTER):
        vpc = c.get("vpcConfig") or {}
        if vpc.get("endpointPrivateAccess") is not True:
            yield c, "the API server has no private endpoint"
        if vpc.get("endpointPublicAccess", True) is not False:
            cidrs = vpc.get("publicAccessCidrs") or ["0.0.0.0/0"]
            if "0.0.0.0/0" in cidrs:
                yield c, "the API server endpoint is public to the whole internet"


def _secrets_encryption(resources, ctx):
    for c in _of(resources, EKS_CLUSTER):
        config = c.get("encryptionConfig") or {}
        if "secrets" not in (config.get("resources") or []) or not (config.get("provider") or {}).get("keyArn"):
            yield c, "Kubernetes secrets are not envelope-encrypted with a KMS key"


def _control_plane_logs(resources, ctx):
    for c in _of(resources, EKS_CLUSTER):
        missing = [t for t in REQUIRED_LOGS if t not in (c.get("enabledClusterLogTypes") or [])]
        if missing:
            yield c, f"control-plane logs off: {', '.join(missing)}"


def _no_public_node_ips(resources, ctx):
    for s in _of(resources, SUBNET):
        if s.get("mapPublicIpOnLaunch") is True:
            yield s, "instances launched here get public IP addresses"
    for t in _of(resources, LAUNCH_TEMPLATE):
        for ni in t.get("networkInterfaces") or []:
            if str(ni.get("associatePublicIpAddress")).lower() == "true":
                yield t, "nodes get public IP addresses"
    for c in _of(resources, NODE_CLASS):
        if (c.get("spec") or {}).get("associatePublicIPAddress") is True:
            yield c, "the nodes Karpenter launches get public IP addresses"


def _imdsv2(resources, ctx):
    templates = {t.name: t for t in _of(resources, LAUNCH_TEMPLATE)}
    for t in templates.values():
        meta = t.get("metadataOptions") or {}
        if meta.get("httpTokens") != "required":
            yield t, "IMDSv1 is allowed: set metadataOptions.httpTokens to required"
        if int(meta.get("httpPutResponseHopLimit") or 1) > 1:
            yield t, "pods can reach the node's instance metadata (hop limit above 1)"
    for g in _of(resources, NODE_GROUP):
        if not g.get("launchTemplate"):
            yield g, "the node group has no launch template requiring IMDSv2"
    for c in _of(resources, NODE_CLASS):
        # An EC2NodeClass without metadataOptions gets the API's default: required, hop limit 1.
        meta = (c.get("spec") or {}).get("metadataOptions") or {}
        if meta.get("httpTokens", "required") != "required":
            yield c, "IMDSv1 is allowed on Karpenter's nodes: set spec.metadataOptions.httpTokens to required"
        if int(meta.get("httpPutResponseHopLimit") or 1) > 1:
            yield c, "pods can reach the instance metadata of Karpenter's nodes (hop limit above 1)"


def _access_entries(resources, ctx):
    for c in _of(resources, EKS_CLUSTER):
        if (c.get("accessConfig") or {}).get("authenticationMode") != "API":
            yield c, "the aws-auth ConfigMap may grant cluster access: set authenticationMode to API"


def _by_bucket(resources, type_) -> dict:
    return {r.get("bucket"): r for r in _of(resources, type_)}


def _public_access_block(resources, ctx):
    blocks = _by_bucket(resources, PUBLIC_ACCESS_BLOCK)
    for b in _of(resources, S3_BUCKET):
        block = blocks.get(b.get("bucket"))
        off = [k for k in _BLOCKS if block is None or block.get(k) is not True]
        if off:
            yield b, f"public access is not blocked: {', '.join(off)}"


def _s3_encryption(resources, ctx):
    configs = _by_bucket(resources, SSE)
    for b in _of(resources, S3_BUCKET):
        rules = (configs.get(b.get("bucket")) or {}).get("rules") if b.get("bucket") in configs else None
        default = ((rules or [{}])[0].get("applyServerSideEncryptionByDefault") or {}) if rules else {}
        if default.get("sseAlgorithm") not in ("aws:kms", "aws:kms:dsse") or not default.get("kmsMasterKeyId"):
            yield b, "objects are not encrypted with the stack's KMS key"


def _s3_versioned_artifacts(resources, ctx):
    versioned = _by_bucket(resources, VERSIONING)
    for b in _of(resources, S3_BUCKET):
        if (b.get("tags") or {}).get("purpose") != "model-artifacts":
            continue
        status = ((versioned.get(b.get("bucket")) or {}).get("versioningConfiguration") or {}).get("status")
        if status != "Enabled":
            yield b, "the model-artifact bucket keeps no versions: an overwritten model is lost"


def _aws_prod_protection(resources, ctx):
    if not ctx.prod:
        return
    for r in _of(resources, S3_BUCKET, ECR, EKS_CLUSTER, KMS_KEY):
        if r.type == S3_BUCKET and (r.get("tags") or {}).get("purpose") not in ("data-lake", "model-artifacts"):
            continue
        if not r.protect:
            yield r, "a stateful resource is not protected in prod"
        if r.type == EKS_CLUSTER and r.get("deletionProtection") is not True:
            yield r, "deletion protection is off in prod"
        if r.type == ECR and r.get("imageTagMutability") != "IMMUTABLE":
            yield r, "image tags can be overwritten in prod"


AWS_RULES = (
    ("MLI-EKS-001", "The EKS API endpoint is private (public only to listed CIDRs)", "CIS EKS 5.4.1, 5.4.2",
     _private_endpoint, (EKS_CLUSTER,)),
    ("MLI-EKS-002", "EKS secrets are envelope-encrypted with KMS", "CIS EKS 5.3.1", _secrets_encryption, (EKS_CLUSTER,)),
    ("MLI-EKS-003", "EKS control-plane logging (api, audit, authenticator) is on", "CIS EKS 2.1.1",
     _control_plane_logs, (EKS_CLUSTER,)),
    ("MLI-EKS-004", "EKS nodes get no public IP addresses", "CIS EKS 5.4.3", _no_public_node_ips,
     (NODE_GROUP, NODE_CLASS)),
    ("MLI-EKS-005", "EKS nodes require IMDSv2 with a hop limit of 1", "CIS AWS 5.6", _imdsv2,
     (NODE_GROUP, LAUNCH_TEMPLATE, NODE_CLASS)),
    ("MLI-EKS-006", "EKS access is by access entries only (authentication mode API)", "mlinfra", _access_entries,
     (EKS_CLUSTER,)),
    ("MLI-S3-001", "S3 buckets block all public access", "CIS AWS 2.1.4", _public_access_block, (S3_BUCKET,)),
    ("MLI-S3-002", "S3 buckets are encrypted with a KMS key", "mlinfra", _s3_encryption, (S3_BUCKET,)),
    ("MLI-S3-003", "The S3 model-artifact bucket is versioned", "mlinfra", _s3_versioned_artifacts, (S3_BUCKET,)),
    ("MLI-AWS-001", "AWS stateful resources are protected, and deletion-protected or immutable, in prod", "mlinfra",
     _aws_prod_protection, (S3_BUCKET, ECR, EKS_CLUSTER)),
)
