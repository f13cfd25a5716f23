"""Run a Pulumi program under Pulumi's own mock engine and record every registration.

The offline plan and the tests share this. A program directory runs exactly as the Pulumi
language host runs it: `run_in_stack(lambda: runpy.run_path(<main>, run_name="__main__"))`
with the project root as working directory and the stack's config in the SDK's store.
"""

from __future__ import annotations

import asyncio
import logging
import os
import runpy
import sys
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

import pulumi
from pulumi.runtime import mocks, rpc, settings, stack as runtime_stack
from pulumi.runtime.proto import resource_pb2

from infra.mocks import CloudMocks, UnknownInvoke

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    custom: bool
    parent: Optional[str]
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    ignore_changes: list[str]
    provider: str
    id: Optional[str] = None
    aliases: list[str] = field(default_factory=list)
    """Earlier URNs this resource answers to (its own aliases and those inherited from its
    parent's), resolved as the engine resolves them: a stack with a resource at one of them
    adopts it instead of replacing it."""

    @property
    def package(self) -> Optional[str]:
        return self.type.split(":", 1)[0] if self.custom else None


@dataclass
class Recording:
    """Every resource a program registered, with finders for assertions."""

    project: str
    stack: str
    registrations: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    invokes: list[str] = field(default_factory=list)
    log: list[tuple[str, str]] = field(default_factory=list)

    def __iter__(self):
        return iter(self.registrations)

    def __len__(self) -> int:
        return len(self.registrations)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def named(self, name: str) -> list[Registration]:
        return [r for r in self.registrations if r.name == name]

    def one(self, type_: str, name: Optional[str] = None) -> Registration:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            names = sorted(r.name for r in self.of_type(type_))
            raise AssertionError(f"expected one {type_}{' named ' + name if name else ''}, found {len(found)}: {names}")
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        for r in self.registrations:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def children_of(self, parent: Union[Registration, str]) -> list[Registration]:
        urn = parent.urn if isinstance(parent, Registration) else parent
        return [r for r in self.registrations if r.parent == urn]

    def descendants_of(self, parent: Union[Registration, str]) -> list[Registration]:
        children = self._children_index()
        urn = parent.urn if isinstance(parent, Registration) else parent
        out, todo = [], deque(children.get(urn, []))
        while todo:
            r = todo.popleft()
            out.append(r)
            todo.extend(children.get(r.urn, []))
        return out

    def custom(self) -> list[Registration]:
        return [r for r in self.registrations if r.custom]

    def count_by_type(self) -> Counter:
        return Counter(r.type for r in self.registrations if r.type != STACK_TYPE)

    def _children_index(self) -> dict[Optional[str], list[Registration]]:
        """Each parent URN's children in registration order (roots under None), built in one
        pass: asking children_of once per resource would make a walk of the tree quadratic."""
        children: dict[Optional[str], list[Registration]] = {}
        for r in self.registrations:
            children.setdefault(r.parent or None, []).append(r)
        return children

    def tree_order(self) -> list[Registration]:
        """Parents before children, siblings by type then name: the same order every run."""
        children = self._children_index()
        out: list[Registration] = []
        # Depth first without recursion (a deep tree cannot reach the recursion limit); each
        # level is pushed in reverse, so it pops in order.
        todo = sorted(children.get(None, []), key=_type_and_name)[::-1]
        while todo:
            r = todo.pop()
            out.append(r)
            todo.extend(sorted(children.get(r.urn, []), key=_type_and_name)[::-1])
        return out


def _type_and_name(r: Registration) -> tuple[str, str]:
    return r.type, r.name


class RecordingMonitor(mocks.MockMonitor):
    """Pulumi's mock monitor, keeping the whole registration request (parent, dependencies,
    protect, ...) that `Mocks.new_resource` is not shown."""

    def __init__(self, cloud: CloudMocks, recording: Recording):
        self._capture = _CapturingMocks(cloud)
        super().__init__(self._capture)
        self.recording = recording
        self._lock = threading.Lock()
        self._alias_urns: dict[str, list[str]] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The URN as the Pulumi engine makes it: the parent's whole qualified type, then the
        child's (Pulumi's mock monitor keeps only the parent's last type, so URNs of resources
        nested two levels deep would differ from the ones `pulumi preview` shows)."""
        return self._urn(parent, type_, name, pulumi.get_stack(), pulumi.get_project())

    @staticmethod
    def _urn(parent: str, type_: str, name: str, stack: str, project: str) -> str:
        if parent and parent.split("::")[2] != STACK_TYPE:
            type_ = parent.split("::")[2] + "$" + type_
        return "urn:pulumi:" + "::".join([stack, project, type_, name])

    def _aliases(self, request, urn: str) -> list[str]:
        """The URNs a registration's alias specs stand for, plus those its parent's aliases
        give it (the engine makes the same: a child keeps its name and type under every
        earlier URN of its parent)."""
        stack, project = pulumi.get_stack(), pulumi.get_project()
        parent = request.parent or ""
        inherited = self._alias_urns.get(parent, [])
        found = {self._urn(p, request.type, self._inherited_name(request.name, parent, p), stack, project)
                 for p in inherited}
        for alias in request.aliases:
            if alias.WhichOneof("alias") == "urn":
                found.add(alias.urn)
                continue
            spec = alias.spec
            name, type_ = spec.name or request.name, spec.type or request.type
            if spec.WhichOneof("parent") == "parentUrn" and spec.parentUrn:
                parents = [spec.parentUrn]
            elif spec.WhichOneof("parent") == "noParent" and spec.noParent:
                parents = [""]
            else:
                parents = [parent, *inherited]
            found |= {self._urn(p, type_, name, spec.stack or stack, spec.project or project) for p in parents}
        found.discard(urn)
        return sorted(found)

    @staticmethod
    def _inherited_name(name: str, parent: str, parent_alias: str) -> str:
        """A child named after its parent follows the parent's earlier name, as in the engine."""
        current, former = parent.rsplit("::", 1)[-1], parent_alias.rsplit("::", 1)[-1]
        return former + name[len(current):] if current != former and name.startswith(current) else name

    def RegisterResource(self, request):
        self._capture.seen.inputs = None
        response = super().RegisterResource(request)
        outputs = {} if not request.custom else _ints(dict(self.resources[response.urn].state))
        # The SDK's monitor has just decoded the request to hand it to the mocks; decoding it
        # again cost ~0.15 ms a resource (measured at 1,000). The stack is never shown to them.
        inputs = self._capture.seen.inputs
        if inputs is None:
            inputs = _ints(rpc.deserialize_properties(request.object))
        registration = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent or None,
            inputs=inputs,
            outputs=outputs,
            # Sorted: the SDK gathers both in sets, so it sends them in the hash seed's order.
            dependencies=sorted(request.dependencies),
            property_dependencies={k: sorted(v.urns) for k, v in sorted(request.propertyDependencies.items())},
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=bool(request.deleteBeforeReplace),
            ignore_changes=list(request.ignoreChanges),
            provider=request.provider,
            id=response.id or None,
            aliases=self._aliases(request, response.urn),
        )
        with self._lock:
            self._alias_urns[response.urn] = registration.aliases
            self.recording.registrations.append(registration)
        return response

    def RegisterResourceOutputs(self, request):
        if request.urn.split("::")[2] == STACK_TYPE:
            self.recording.outputs = _ints(rpc.deserialize_properties(request.outputs))
        return super().RegisterResourceOutputs(request)


class _CapturingMocks(mocks.Mocks):
    """The cloud's mocks, keeping (per thread: the SDK registers from a thread pool) the inputs
    the mock monitor decoded for the registration it is answering."""

    def __init__(self, cloud: CloudMocks):
        self.cloud = cloud
        self.seen = threading.local()

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[Optional[str], dict]:
        # A copy (_ints rebuilds every dict and list) before the mocks see them, so what they
        # do to their state cannot change the recorded inputs.
        self.seen.inputs = _ints(args.inputs)
        return self.cloud.new_resource(args)

    def call(self, args: mocks.MockCallArgs):
        return self.cloud.call(args)

    def register_transform(self, transform) -> None:
        self.cloud.register_transform(transform)

    def register_invoke_transform(self, transform) -> None:
        self.cloud.register_invoke_transform(transform)


def _ints(value: Any) -> Any:
    """Protobuf carries every number as a double; give whole numbers back as ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


class _LogHandler(logging.Handler):
    def __init__(self, recording: Recording):
        super().__init__(logging.INFO)
        self.recording = recording

    def emit(self, record: logging.LogRecord) -> None:
        self.recording.log.append((record.levelname.lower(), record.getMessage()))


Program = Union[Path, Callable[[], Any]]


def run(program: Program, *, project: str = "mlinfra", stack: str = "test",
        config: Optional[Mapping[str, str]] = None, secret_keys: Sequence[str] = (),
        cwd: Optional[Path] = None, recording: Optional[Recording] = None) -> Recording:
    """Run `program` (a program directory, or a function that creates resources) offline.

    A program directory runs with `cwd` as working directory; a function runs where it is.

    Raises whatever the program raises (a ConfigError for a bad stack file), or UnknownInvoke;
    pass `recording` to keep what was registered before a failure.
    """
    config = dict(config or {})
    cloud = CloudMocks(project=config.get("gcp:project", "mlinfra-offline"),
                       region=config.get("gcp:region") or config.get("aws:region") or "us-central1")
    recording = recording if recording is not None else Recording(project=project, stack=stack)
    monitor = RecordingMonitor(cloud, recording)
    logger = logging.getLogger("mlinfra.engine")
    logger.propagate = False
    logger.setLevel(logging.INFO)  # the program's pulumi.log.info notes reach the recording too
    handler = _LogHandler(recording)
    logger.addHandler(handler)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    old_cwd, old_argv = os.getcwd(), sys.argv
    try:
        settings.configure(mocks.MockSettings(
            monitor=monitor,
            monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
            engine=mocks.MockEngine(logger),
            project=project, stack=stack, dry_run=True, organization="organization",
            parallel=4, callbacks=None,
        ))
        settings.ROOT.set(None)
        pulumi.runtime.set_all_config(dict(config), list(secret_keys))
        if isinstance(program, Path):
            main = program
            sys.argv = [str(main)]
            if cwd is not None:
                os.chdir(cwd)
            body: Callable[[], Any] = lambda: runpy.run_path(str(main), run_name="__main__")
        else:
            body = program
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        try:
            loop.run_until_complete(runtime_stack.run_in_stack(body))
        except Exception as error:
            if cloud.unknown_invokes:
                raise UnknownInvoke(cloud.unknown_invokes[0]) from error
            raise
    finally:
        os.chdir(old_cwd)
        sys.argv = old_argv
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)
        settings.ROOT.set(None)
        pulumi.runtime.set_all_config({}, [])
        logger.removeHandler(handler)
    recording.invokes = list(cloud.invokes)
    return recording


def provider_modules(prefixes: Iterable[str] = ("pulumi_gcp", "pulumi_aws", "pulumi_kubernetes", "pulumi_github")) -> list[str]:
    """Provider packages and submodules this process has really imported (`pulumi_gcp.compute`, ...).

    Providers register every submodule in sys.modules as a lazy placeholder that runs nothing
    until first touched; those are not counted.
    """
    names = []
    for name, module in list(sys.modules.items()):
        parts = name.split(".")
        if parts[0] not in prefixes or len(parts) > 2 or type(module).__name__ == "_LazyModule":
            continue
        # Resource namespaces are packages; plain modules (provider.py, *_from_id.py) are helpers.
        if len(parts) == 1 or (hasattr(module, "__path__") and not parts[1].startswith("_") and parts[1] != "config"):
            names.append(name)
    return sorted(names)
