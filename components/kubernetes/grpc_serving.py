"""`protocol: grpc` on a Kubernetes model server: the container's gRPC port, its probes, the
Service port a Gateway reaches it on, and the load balancer's health check (plain data).

gRPC is HTTP/2, so every hop must speak it. Facts encoded here:
- Kubernetes' own gRPC probes (`grpc: {port, service}`, GA in 1.27) call grpc.health.v1
  Health/Check on a port number (no named ports); a server without that service (TF Serving,
  a custom image) gets TCP probes instead;
- the Service port's `appProtocol: kubernetes.io/h2c` (KEP-3726's standard name, Gateway API's
  GEP-1911) makes GKE's Gateway give the backend service protocol H2C, HTTP/2 in cleartext, which
  is what the runtimes' gRPC servers speak (GKE "Secure a Gateway": appProtocol takes HTTP, HTTPS,
  HTTP2 and kubernetes.io/h2c; HTTP2 is HTTP/2 over TLS, which they do not serve);
- GKE's HealthCheckPolicy takes `type: GRPC` with `grpcHealthCheck: {port, grpcServiceName}`
  (GoogleCloudPlatform/gke-gateway-api, apis/networking/v1/healthcheck_types.go), else TCP.
"""

from __future__ import annotations

from typing import Any, Optional

from components.core.issues import Issue
from components.serving import runtimes

H2C = "kubernetes.io/h2c"


def is_grpc(spec: Any) -> bool:
    return getattr(spec, "protocol", "http") == "grpc"


def port_name(spec: Any) -> str:
    """The container's and the Service's port name: grpc or http."""
    return "grpc" if is_grpc(spec) else "http"


def health_checked(spec: Any) -> bool:
    """Probes and the load balancer's check can be gRPC health checks (the runtime has grpc.health.v1)."""
    return is_grpc(spec) and runtimes.grpc_health(spec.runtime)


def probe_check(spec: Any, port: int, path: Optional[str]) -> dict:
    """What one probe checks: an HTTP path, the gRPC health service, or the port's TCP handshake."""
    if is_grpc(spec):
        return {"grpc": {"port": port}} if health_checked(spec) else {"tcpSocket": {"port": port_name(spec)}}
    return {"httpGet": {"path": path, "port": "http"}} if path else {"tcpSocket": {"port": "http"}}


def service_port(spec: Any, port: int) -> dict:
    """The Service's one port: HTTP/1.1, or h2c for gRPC (the Gateway then speaks HTTP/2 to the pods)."""
    out = {"name": port_name(spec), "port": port, "targetPort": port_name(spec), "protocol": "TCP"}
    if is_grpc(spec):
        out["appProtocol"] = H2C
    return out


def lb_health_check(spec: Any, port: int, ready_path: Optional[str]) -> dict:
    """The Gateway load balancer's check of each pod (HealthCheckPolicy `config`)."""
    if health_checked(spec):
        return {"type": "GRPC", "grpcHealthCheck": {"port": port}}
    if ready_path and not is_grpc(spec):
        return {"type": "HTTP", "httpHealthCheck": {"port": port, "requestPath": ready_path}}
    return {"type": "TCP", "tcpHealthCheck": {"port": port}}


def probe_issues(spec: Any) -> list[Issue]:
    """An HTTP probe path cannot be checked on a port that speaks only HTTP/2 (gRPC)."""
    if not is_grpc(spec):
        return []
    probes = spec.probes
    return [Issue(("probes", kind, "path"), "is an HTTP/1.1 probe on the gRPC port, which only speaks HTTP/2",
                  probe.path, fix="remove it: gRPC servers are probed with gRPC health checks (Triton) or TCP")
            for kind, probe in (("startup", probes.startup), ("readiness", probes.readiness),
                                ("liveness", probes.liveness))
            if probe is not None and probe.path is not None]
