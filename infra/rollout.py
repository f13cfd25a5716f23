"""`mlinfra rollout propose|promote|abort`: change which model version a service serves, in its stack file.

The stack file is the source of truth for what a service serves (`model.version`, and
`rollout.canary` while a new version takes a share of the traffic). These commands edit it in
place, touching only the keys they change (every comment and unrelated line stays byte for
byte), check the result with the loader `mlinfra validate` uses, and print the change as a
unified diff; the change then goes through the normal PR preview and the deploy's approvals.

Exit codes: 0 changed, 1 refused (nothing written), 3 nothing to change (already so).
"""

from __future__ import annotations

import argparse
import copy
import difflib
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from infra import yamledit
from infra.stackfile import Project, load_yaml, stack_argument

EXIT_CHANGED, EXIT_REFUSED, EXIT_UNCHANGED = 0, 1, 3
DEFAULT_PERCENT = 10
# ModelSpec.version's pattern; the version also names the directory models/<name>/<version>/ and
# the PR branch rollout/<stack>/<service>/<version>, so git's rules for a ref's part apply too.
VERSION = re.compile(r"^[A-Za-z0-9._-]{1,40}$")
SERVICES = "mlinfra:services"
# What exists only while a canary runs: Cloud Run's stableRevision pins the stable side of one.
CANARY_ONLY = ("canary", "stableRevision")


class Refused(Exception):
    """The change is not made: the message names the stack file, the key and the fix."""


class Unchanged(Exception):
    """The stack file already says what was asked (a re-dispatch of the same version)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    rollout = sub.add_parser("rollout", help="propose, promote or abort a service's canary in its stack file")
    commands = rollout.add_subparsers(dest="rollout_command", required=True)
    propose = commands.add_parser("propose", help="set rollout.canary.version of a service (adding the canary "
                                                  f"at {DEFAULT_PERCENT} %% when there is none)")
    promote = commands.add_parser("promote", help="make the canary's version the stable model.version and "
                                                  "remove the canary")
    abort = commands.add_parser("abort", help="remove the canary: the stable version takes all traffic")
    for command in (propose, promote, abort):
        command.add_argument("--stack", "-s", required=True, type=stack_argument, help="stack name: stacks/Pulumi.<stack>.yaml")
        command.add_argument("--service", required=True, help="the service's `name` in mlinfra:services")
    propose.add_argument("--version", required=True, help="the new model version (its directory under model.uri)")
    propose.add_argument("--percent", type=int, metavar="0-100",
                         help=f"the canary's share of traffic (default: the current canary's, else {DEFAULT_PERCENT})")


def run(args: argparse.Namespace, project: Project) -> int:
    path = project.stack_file(args.stack)
    shown = project.display(path)
    if not path.is_file():
        print(f"mlinfra rollout: no stack file {shown} (stacks: {', '.join(project.stacks()) or 'none'})",
              file=sys.stderr)
        return EXIT_REFUSED
    before = path.read_bytes().decode("utf-8")
    try:
        if args.rollout_command == "propose":
            change = propose(before, shown, args.service, args.version, args.percent)
        elif args.rollout_command == "promote":
            change = promote(before, shown, args.service)
        else:
            change = abort(before, shown, args.service)
        validate(change.text, project, args.stack, shown, before)
    except Unchanged as why:
        print(f"{shown}: nothing to change: {why}")
        return EXIT_UNCHANGED
    except Refused as why:
        print(f"{why}\nNothing was written.", file=sys.stderr)
        return EXIT_REFUSED
    path.write_bytes(change.text.encode("utf-8"))
    sys.stdout.writelines(difflib.unified_diff(before.splitlines(keepends=True), change.text.splitlines(keepends=True),
                                               fromfile=f"a/{shown}", tofile=f"b/{shown}"))
    print(f"{shown}: {change.summary}", file=sys.stderr)
    return EXIT_CHANGED


@dataclass(frozen=True)
class Change:
    text: str
    summary: str


@dataclass
class _Service:
    """One service of the stack file: its node (where to edit) and its data (what it says)."""
    node: yaml.MappingNode
    data: dict[str, Any]
    index: int
    key: str  # e.g. mlinfra:services[1] (summarizer), as errors name it

    def rollout(self) -> Optional[dict]:
        value = self.data.get("rollout")
        return value if isinstance(value, dict) else None

    def canary(self) -> Optional[dict]:
        value = (self.rollout() or {}).get("canary")
        return value if isinstance(value, dict) else None


def _service(text: str, file: str, name: str) -> _Service:
    try:
        root = yamledit.compose(text)
        data = load_yaml(text)
    except (yaml.YAMLError, yamledit.EditError, ValueError) as error:
        raise Refused(f"{file}: not a stack file this command can read ({error}); `mlinfra validate` says "
                      f"what to fix") from None
    config = yamledit.lookup(root, "config")
    services = yamledit.lookup(config[1], SERVICES) if config else None
    if services is None or not isinstance(services[1], yaml.SequenceNode):
        raise Refused(f"{file}: config.{SERVICES} has no list of services, so there is no service {name!r}")
    names = []
    for i, item in enumerate(services[1].value):
        found = yamledit.lookup(item, "name")
        names.append(found[1].value if found else "?")
        if found and found[1].value == name:
            return _Service(item, data["config"][SERVICES][i], i, f"{SERVICES}[{i}] ({name})")
    raise Refused(f"{file}: {SERVICES} has no service named {name!r} (services: {', '.join(names) or 'none'}). "
                  f"Fix: pass --service with one of those names")


def _edit(text: str, file: str, name: str, edit) -> str:
    """One targeted edit on the service, found again in the current text (marks move)."""
    service = _service(text, file, name)
    try:
        return edit(text, service)
    except yamledit.EditError as error:
        raise Refused(f"{file}: {service.key}: cannot be edited in place ({error}); make the change by hand") from None


def _check_version(file: str, key: str, version: str) -> None:
    if not VERSION.match(version) or version.startswith((".", "-")) or ".." in version \
            or version.endswith((".", ".lock")):
        raise Refused(f"{file}: {key}.rollout.canary.version: {version!r} is not a model version. Allowed: 1 to 40 "
                      f"letters, digits, '.', '_' and '-', not starting with '.' or '-', without '..', not ending "
                      f"in '.' or '.lock' (it names models/<name>/<version>/ and the PR's branch)")


def _quoted(version: str) -> str:
    return f'"{version}"'  # always a string: `version: 8` would be read as a number


def propose(text: str, file: str, name: str, version: str, percent: Optional[int] = None) -> Change:
    service = _service(text, file, name)
    _check_version(file, service.key, version)
    model = service.data.get("model")
    if not isinstance(model, dict):
        raise Refused(f"{file}: {service.key}.model: the service ships its model in its image (no `model:`), so "
                      f"a canary of it names a new image, not a version. Fix: add `rollout: {{canary: {{image: "
                      f"..., percent: {DEFAULT_PERCENT}}}}}` by hand")
    stable = str(model.get("version"))
    if version == stable:
        raise Refused(f"{file}: {service.key}.model.version is already {version!r}: the stable version, "
                      f"serving all traffic. Fix: propose a version other than {stable}")
    canary = service.canary()
    if canary is not None and str(canary.get("version")) == version and percent in (None, canary.get("percent")):
        raise Unchanged(f"{service.key}.rollout.canary is already version {version!r} at {canary.get('percent')} %")
    expected = copy.deepcopy(load_yaml(text))
    target = expected["config"][SERVICES][service.index]
    share = percent if percent is not None else (canary or {}).get("percent", DEFAULT_PERCENT)
    if canary is None:
        target.setdefault("rollout", {})
        target["rollout"] = target["rollout"] if isinstance(target["rollout"], dict) else {}
        target["rollout"]["canary"] = {"version": version, "percent": share}
        if "rollout" not in service.data:
            text = _edit(text, file, name, lambda t, s: yamledit.add_key(
                t, s.node, "rollout", f"{{canary: {{version: {_quoted(version)}, percent: {share}}}}}"))
        else:
            text = _edit(text, file, name, lambda t, s: yamledit.add_key(
                t, _value(s, "rollout"), "canary", f"{{version: {_quoted(version)}, percent: {share}}}"))
        summary = f"{service.key}: canary of version {version} at {share} % beside stable {stable}"
    else:
        previous = canary.get("version")
        target["rollout"]["canary"].update(version=version, percent=share)
        text = _set(text, file, name, ("rollout", "canary"), "version", _quoted(version))
        if percent is not None:
            text = _set(text, file, name, ("rollout", "canary"), "percent", str(percent))
        moved = f"{previous} -> {version}" if str(previous) != version else version
        summary = f"{service.key}: canary {moved} at {share} % beside stable {stable}"
    return Change(_checked(text, file, expected), summary)


def promote(text: str, file: str, name: str) -> Change:
    service = _service(text, file, name)
    canary = service.canary()
    if canary is None:
        raise Refused(f"{file}: {service.key}.rollout.canary: the service runs no canary, so there is nothing to "
                      f"promote. Fix: propose one first (`mlinfra rollout propose`)")
    expected = copy.deepcopy(load_yaml(text))
    target = expected["config"][SERVICES][service.index]
    if isinstance(service.data.get("model"), dict) and canary.get("version") is not None:
        new = str(canary["version"])
        _check_version(file, service.key, new)
        target["model"]["version"] = new
        text = _set(text, file, name, ("model",), "version", _quoted(new))
        summary = f"{service.key}: model.version {service.data['model'].get('version')} -> {new}, canary removed"
    elif service.data.get("model") is None and canary.get("image") is not None:
        target["image"] = canary["image"]
        source = _edit(text, file, name, lambda t, s: _source(t, _value(s, "rollout", "canary", "image")))
        text = _set(text, file, name, (), "image", source)
        summary = f"{service.key}: image -> {canary['image']}, canary removed"
    else:
        raise Refused(f"{file}: {service.key}.rollout.canary: names neither the new model version (with `model:`) "
                      f"nor the new image (without); `mlinfra validate --stack ...` says what to fix")
    _drop_canary(target)
    return Change(_checked(_remove_canary(text, file, name), file, expected), summary)


def abort(text: str, file: str, name: str) -> Change:
    service = _service(text, file, name)
    canary = service.canary()
    if canary is None:
        raise Unchanged(f"{service.key} runs no canary")
    expected = copy.deepcopy(load_yaml(text))
    _drop_canary(expected["config"][SERVICES][service.index])
    what = canary.get("version", canary.get("image"))
    return Change(_checked(_remove_canary(text, file, name), file, expected),
                  f"{service.key}: canary {what} removed; the stable version takes all traffic")


def _drop_canary(target: dict) -> None:
    rollout = target["rollout"]
    for key in CANARY_ONLY:
        rollout.pop(key, None)
    if not rollout:
        del target["rollout"]


def _remove_canary(text: str, file: str, name: str) -> str:
    rollout = _service(text, file, name).rollout() or {}
    if set(rollout) <= set(CANARY_ONLY):
        return _edit(text, file, name, lambda t, s: yamledit.remove_key(t, s.node, "rollout"))
    for key in CANARY_ONLY:
        if key in rollout:
            text = _edit(text, file, name, lambda t, s: yamledit.remove_key(t, _value(s, "rollout"), key))
    return text


def _value(service: _Service, *path: str) -> yaml.Node:
    node: yaml.Node = service.node
    for key in path:
        found = yamledit.lookup(node, key)
        if found is None:
            raise yamledit.EditError(f"no {'.'.join(path)}")
        node = found[1]
    return node


def _source(text: str, node: yaml.Node) -> str:
    return text[node.start_mark.index:yamledit.tight_end(node)]


def _set(text: str, file: str, name: str, path: tuple[str, ...], key: str, value: str) -> str:
    """Replace the value of `key` in the mapping at `path` of the service, or add it."""
    def edit(t: str, s: _Service) -> str:
        mapping = _value(s, *path)
        found = yamledit.lookup(mapping, key)
        return yamledit.replace_value(t, found[1], value) if found else yamledit.add_key(t, mapping, key, value)
    return _edit(text, file, name, edit)


def _checked(text: str, file: str, expected: Any) -> str:
    """The edited text must read as exactly the intended data, or nothing is written."""
    if load_yaml(text) != expected:
        raise Refused(f"{file}: the in-place edit did not produce the intended change (a layout this command does "
                      f"not handle); make the change by hand")
    return text


def validate(text: str, project: Project, stack: str, file: str, before: str) -> None:
    """The edited file must pass the loader `mlinfra validate` uses; the original must already."""
    from infra import config
    from infra.errors import ConfigError
    from infra.stackfile import StackFileError, read_stack_config, to_engine_config

    def problems(candidate: str) -> Optional[str]:
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "stack.yaml"
            path.write_bytes(candidate.encode("utf-8"))
            try:
                values, _ = to_engine_config(read_stack_config(path, file))
                config.load(values, stack=stack, file=file, root=project.root)
            except (ConfigError, StackFileError) as error:
                return "\n".join(line for line in str(error).splitlines() if not line.startswith("Nothing was"))
        return None

    found = problems(before)
    if found:
        raise Refused(f"{file} does not validate before the change; fix it first:\n{found.rstrip()}")
    found = problems(text)
    if found:
        raise Refused(f"{file}: the change would not validate:\n{found.rstrip()}")
