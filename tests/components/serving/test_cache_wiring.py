"""What a workload with `cache: true` is given, as plain data: env entries, the Secret's keys and
volume, and the runtime's own cache flags (Triton only)."""

from __future__ import annotations

import pulumi

from components.serving import cache_wiring, runtimes
from components.serving.cache_wiring import CacheConnection
from tests.conftest import run_component


def test_cache_env_gives_host_port_tls_and_the_ca_pem_for_platforms_taking_plain_values():
    def program():
        env = cache_wiring.cache_env(CacheConnection(host="10.1.2.3", port=6378, ca_cert="PEM", tls=True))
        pulumi.export("env", env)
        plain = cache_wiring.cache_env(CacheConnection(host="10.1.2.3", port=6379, ca_cert="", tls=False))
        pulumi.export("plain", plain)

    out = run_component(program).outputs
    assert out["env"] == [{"name": "CACHE_HOST", "value": "10.1.2.3"}, {"name": "CACHE_PORT", "value": "6378"},
                          {"name": "CACHE_TLS", "value": "true"}, {"name": "CACHE_CA_CERT", "value": "PEM"}]
    assert [e["name"] for e in out["plain"]] == ["CACHE_HOST", "CACHE_PORT", "CACHE_TLS"]


def test_the_secret_volume_holds_only_the_ca_and_only_with_tls():
    volumes, mounts = cache_wiring.config_volume(True, "s")
    assert volumes == [{"name": "cache-ca", "configMap": {"name": "s", "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                                      "defaultMode": 0o444}}]
    assert mounts == [{"name": "cache-ca", "mountPath": "/etc/mlinfra/cache", "readOnly": True}]
    assert cache_wiring.config_volume(False) == ([], [])
    assert [e["name"] for e in cache_wiring.config_env(False)] == ["CACHE_HOST", "CACHE_PORT", "CACHE_TLS"]


def test_only_triton_has_its_own_cache_flags():
    assert runtimes.cache_args("triton", True, "/ca.crt") == [
        "--cache-config", "redis,host=$(CACHE_HOST)", "--cache-config", "redis,port=$(CACHE_PORT)",
        "--cache-config", "redis,tls_enabled=true", "--cache-config", "redis,cacert=/ca.crt"]
    for runtime in ("torchserve", "tfserving", "vllm", "custom", None):
        assert runtimes.cache_args(runtime, True, "/ca.crt") == []
    # The preset's own options do not include --cache-config, so extraArgs may add cache keys (pool_size, ...).
    assert "--cache-config" not in runtimes.preset_flags("triton", gpus=1)
