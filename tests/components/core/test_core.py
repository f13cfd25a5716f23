"""The core: naming, units and labels, without any Pulumi machinery beyond the mocks."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from components.core import naming
from components.core.issues import InputError
from components.core.labels import labels_transformation
from components.core.units import cpu_string, memory_mib
from components.gcp.cloudrun.cloud_run_model_server import CloudRunModelServer, CloudRunModelServerArgs
from components.gcp.cloudrun.cloud_run_service_spec import CloudRunServiceSpec
from components.gcp.cloudrun.revisions import revision_name, traffic_split
from components.gcp.functions.cloud_function_spec import CloudFunctionSpec, source_digest
from components.gcp.functions.cloud_function_trigger import CloudFunctionTrigger, CloudFunctionTriggerArgs
from components.gcp.iam.service_account import ServiceAccount
from components.gcp.network.network import Network, NetworkArgs
from components.gcp.network.network_spec import NetworkSpec
from components.gcp.storage.bucket import Bucket, BucketArgs, LifecycleRule
from tests.conftest import ROOT, run_component


def test_dns_names_are_cut_with_a_hash_so_long_names_never_collide():
    a, b = naming.dns_name("x" * 70, "a"), naming.dns_name("x" * 70, "b")
    assert len(a) == len(b) == 63 and a != b
    assert naming.dns_name("Acme_ML", "Dev") == "acme-ml-dev"


def test_units_parse_memory_and_format_cpu():
    assert memory_mib("16Gi") == 16384 and memory_mib("512Mi") == 512
    assert cpu_string(4) == "4" and cpu_string(0.5) == "500m"
    with pytest.raises(ValueError):
        memory_mib("16 GB")


def test_labels_transformation_merges_under_a_resources_own_labels_and_skips_unlabelled_types():
    import pulumi_gcp as gcp

    def program():
        parent = pulumi.ComponentResource("test:index:Parent", "p", None,
                                          pulumi.ResourceOptions(transformations=[labels_transformation({"team": "a", "env": "dev"})]))
        gcp.pubsub.Topic("t", labels={"team": "b"}, opts=pulumi.ResourceOptions(parent=parent))
        gcp.pubsub.TopicIAMMember("m", topic="t", role="roles/pubsub.publisher", member="user:x@y.z",
                                  opts=pulumi.ResourceOptions(parent=parent))
    rec = run_component(program)
    assert rec.one("gcp:pubsub/topic:Topic").inputs["labels"] == {"team": "b", "env": "dev"}
    assert "labels" not in rec.one("gcp:pubsub/topicIAMMember:TopicIAMMember").inputs
