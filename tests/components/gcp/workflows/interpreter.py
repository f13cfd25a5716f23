"""A small interpreter of the Google Cloud Workflows syntax the chains use, for running their
definitions offline against fake connectors.

It checks what Workflows checks when a definition is deployed (every step one known kind,
every `next` a step of the same list, every call a known function with its required and no
unknown arguments, expressions only as whole `${...}` values) and then executes the steps
with Workflows' semantics for assign, call, switch, for, try/except, raise and return.
Expressions are Workflows' own small language, evaluated by translating literals
(true/false/null) and running the rest as Python over maps that allow `a.b` access.
"""

from __future__ import annotations

import base64
import re
from typing import Any, Callable, Mapping, Optional

# Known calls: (required arguments, optional arguments), from the connector reference pages.
CALLS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "googleapis.run.v2.projects.locations.jobs.run": (frozenset({"name"}), frozenset({"body", "connector_params"})),
    "gke.create_job": (frozenset({"cluster_id", "job"}),
                       frozenset({"namespace", "project", "location", "query", "timeout"})),
    "gke.await_job": (frozenset({"cluster_id", "job_name"}),
                      frozenset({"namespace", "project", "location", "query", "timeout", "polling_policy"})),
    "googleapis.dataflow.v1b3.projects.locations.flexTemplates.launch": (
        frozenset({"projectId", "location", "body"}), frozenset({"connector_params"})),
    "googleapis.dataflow.v1b3.projects.locations.jobs.get": (
        frozenset({"projectId", "location", "jobId"}), frozenset({"view", "connector_params"})),
    "googleapis.secretmanager.v1.projects.secrets.versions.accessString": (
        frozenset({"secret_id"}), frozenset({"version", "project_id"})),
    "http.post": (frozenset({"url"}), frozenset({"headers", "body", "query", "auth", "timeout"})),
    "sys.log": (frozenset(), frozenset({"data", "text", "json", "severity", "timeout"})),
    "sys.sleep": (frozenset({"seconds"}), frozenset()),
}
STEP_KINDS = {"assign", "call", "switch", "for", "try", "raise", "return", "steps", "next"}
GKE_CREATE_TIMEOUT_MAX = 1800


class WorkflowError(Exception):
    """A raised value, as an `except` sees it."""

    def __init__(self, value: Any):
        super().__init__(value)
        self.value = value


class _Return(Exception):
    def __init__(self, value: Any):
        self.value = value


class _Next(Exception):
    def __init__(self, target: str):
        self.target = target


class M(dict):
    """A Workflows map: `m.key` reads a key (a missing one is a KeyError, as in Workflows)."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise WorkflowError({"tags": ["KeyError"], "message": f"key not found: {key}"}) from None


def wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return M({k: wrap(v) for k, v in value.items()})
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value


def unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def check(definition: Mapping[str, Any]) -> list[str]:
    """What deploying the definition would reject; empty when it deploys."""
    problems: list[str] = []
    if set(definition) != {"main"}:
        problems.append(f"subworkflows other than main: {sorted(set(definition) - {'main'})}")
    main = definition.get("main", {})
    if main.get("params") != ["event"]:
        problems.append("main takes one parameter, event")
    _check_steps(main.get("steps", []), "main", problems)
    return problems


def _check_steps(steps: Any, where: str, problems: list[str]) -> None:
    if not isinstance(steps, list) or not steps:
        problems.append(f"{where}: steps must be a non-empty list")
        return
    names = []
    for step in steps:
        if not isinstance(step, dict) or len(step) != 1:
            problems.append(f"{where}: each step is a one-key map")
            continue
        [(name, body)] = step.items()
        names.append(name)
    for step in steps:
        [(name, body)] = step.items()
        here = f"{where}.{name}"
        kinds = set(body) & (STEP_KINDS - {"next"})
        if set(body) - STEP_KINDS - {"args", "result", "except"}:
            problems.append(f"{here}: unknown keys {sorted(set(body) - STEP_KINDS - {'args', 'result', 'except'})}")
        if len(kinds) != 1 and not (kinds == set() and "next" in body):
            problems.append(f"{here}: one kind of step expected, got {sorted(kinds)}")
        if "next" in body and body["next"] not in names + ["end"]:
            problems.append(f"{here}: next {body['next']!r} is not a step of this list")
        if "call" in body:
            _check_call(body["call"], body.get("args", {}), here, problems)
        if "try" in body:
            inner = body["try"]
            if "call" in inner:
                _check_call(inner["call"], inner.get("args", {}), here, problems)
            elif "steps" in inner:
                _check_steps(inner["steps"], here, problems)
            if "except" in body:
                _check_steps(body["except"].get("steps"), here + ".except", problems)
        if "switch" in body:
            for i, case in enumerate(body["switch"]):
                if "condition" not in case:
                    problems.append(f"{here}: switch case {i} has no condition")
                if "next" in case and case["next"] not in names + ["end"]:
                    problems.append(f"{here}: case {i} next {case['next']!r} is not a step of this list")
                if "steps" in case:
                    _check_steps(case["steps"], f"{here}[{i}]", problems)
        if "for" in body:
            _check_steps(body["for"].get("steps"), here + ".for", problems)
        if "steps" in body:
            _check_steps(body["steps"], here, problems)
        _check_expressions(body, here, problems)


def _check_call(target: str, args: Mapping[str, Any], where: str, problems: list[str]) -> None:
    if target not in CALLS:
        problems.append(f"{where}: unknown call {target}")
        return
    required, optional = CALLS[target]
    if required - set(args):
        problems.append(f"{where}: {target} needs {sorted(required - set(args))}")
    if set(args) - required - optional:
        problems.append(f"{where}: {target} has no arguments {sorted(set(args) - required - optional)}")
    if target == "gke.create_job" and isinstance(args.get("timeout"), (int, float)) \
            and args["timeout"] > GKE_CREATE_TIMEOUT_MAX:
        problems.append(f"{where}: gke.create_job timeout is at most {GKE_CREATE_TIMEOUT_MAX}")


def _check_expressions(value: Any, where: str, problems: list[str]) -> None:
    if isinstance(value, str) and "${" in value and not (value.startswith("${") and value.endswith("}")):
        problems.append(f"{where}: {value!r}: an expression must be the whole value")
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and "${" in k:
                problems.append(f"{where}: expression in a key {k!r}")
            _check_expressions(v, where, problems)
    elif isinstance(value, list):
        for v in value:
            _check_expressions(v, where, problems)


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|==|!=|<=|>=|//|\S')


def _python(expression: str) -> str:
    out = []
    for token in _TOKEN.findall(expression):
        out.append({"true": "True", "false": "False", "null": "None"}.get(token, token))
    return " ".join(out)


class Interpreter:
    """Runs `main` with an event. `connectors` maps call names to functions of the (evaluated)
    arguments; sys.log and sys.sleep are built in (the clock only moves when the workflow sleeps)."""

    def __init__(self, definition: Mapping[str, Any], connectors: Mapping[str, Callable[[dict], Any]],
                 env: Optional[Mapping[str, str]] = None, now: float = 1_800_000_000.0):
        problems = check(definition)
        if problems:
            raise AssertionError("the definition would not deploy:\n" + "\n".join(problems))
        self.definition = definition
        self.connectors = dict(connectors)
        self.env = {"GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID": "3f2a9c1e-7b4d-4e8a-9c2f-5d6e7f8a9b0c",
                    "GOOGLE_CLOUD_PROJECT_ID": "acme-ml-dev", **(env or {})}
        self.clock = now
        self.logs: list[dict] = []
        self.calls: list[tuple[str, dict]] = []

    # The standard library the definitions use.
    def _namespace(self, variables: dict[str, Any]) -> dict[str, Any]:
        class NS:
            def __init__(self, **fns: Any):
                self.__dict__.update(fns)

        def substring(s: str, start: int, end: int) -> str:
            return s[max(start, 0):max(min(end, len(s)), 0)]

        return {
            **variables,
            "text": NS(match_regex=lambda s, r: re.search(r, s) is not None, substring=substring,
                       split=lambda s, sep: s.split(sep), decode=lambda b: b.decode("utf-8")),
            "base64": NS(decode=lambda s: base64.b64decode(s)),
            "sys": NS(get_env=lambda k: self.env.get(k), now=lambda: self.clock),
            "map": NS(get=lambda m, k: m.get(k) if isinstance(m, dict) else None),
            "list": NS(concat=lambda items, v: [*items, v]),
            "default": lambda v, d: d if v is None else v,
            "len": len,
        }

    def evaluate(self, value: Any, variables: dict[str, Any]) -> Any:
        if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
            try:
                return wrap(eval(_python(value[2:-1]), {"__builtins__": {}}, self._namespace(variables)))
            except NameError as error:
                raise AssertionError(f"{value}: {error} (a variable used before it is assigned)") from None
        if isinstance(value, dict):
            return M({k: self.evaluate(v, variables) for k, v in value.items()})
        if isinstance(value, list):
            return [self.evaluate(v, variables) for v in value]
        return value

    def run(self, event: Any) -> Any:
        variables: dict[str, Any] = {"event": wrap(event)}
        try:
            self._steps(self.definition["main"]["steps"], variables)
        except _Return as done:
            return unwrap(done.value)
        return None

    def _steps(self, steps: list, variables: dict[str, Any]) -> None:
        names = [next(iter(s)) for s in steps]
        i = 0
        while i < len(steps):
            name, body = next(iter(steps[i].items()))
            try:
                self._step(body, variables)
            except _Next as jump:
                if jump.target == "end":
                    raise _Return(None) from None
                if jump.target not in names:
                    raise
                i = names.index(jump.target)
                continue
            if "next" in body:
                if body["next"] == "end":
                    raise _Return(None)
                i = names.index(body["next"])
                continue
            i += 1

    def _step(self, body: Mapping[str, Any], variables: dict[str, Any]) -> None:
        if "assign" in body:
            for assignment in body["assign"]:
                [(target, value)] = assignment.items()
                self._assign(target, self.evaluate(value, variables), variables)
        elif "call" in body:
            self._call(body, variables)
        elif "switch" in body:
            for case in body["switch"]:
                if self.evaluate(case["condition"], variables) is True:
                    if "steps" in case:
                        self._steps(case["steps"], variables)
                    if "return" in case:
                        raise _Return(self.evaluate(case["return"], variables))
                    if "raise" in case:
                        raise WorkflowError(unwrap(self.evaluate(case["raise"], variables)))
                    if "next" in case:
                        raise _Next(case["next"])
                    return
        elif "for" in body:
            loop = body["for"]
            for item in self.evaluate(loop["in"], variables):
                variables[loop["value"]] = item
                self._steps(loop["steps"], variables)
            variables.pop(loop["value"], None)
        elif "try" in body:
            try:
                inner = body["try"]
                if "call" in inner:
                    self._call(inner, variables)
                else:
                    self._steps(inner["steps"], variables)
            except WorkflowError as error:
                if "except" not in body:
                    raise
                variables[body["except"]["as"]] = wrap(error.value)
                self._steps(body["except"]["steps"], variables)
        elif "raise" in body:
            raise WorkflowError(unwrap(self.evaluate(body["raise"], variables)))
        elif "return" in body:
            raise _Return(self.evaluate(body["return"], variables))
        elif "steps" in body:
            self._steps(body["steps"], variables)

    def _call(self, body: Mapping[str, Any], variables: dict[str, Any]) -> None:
        target = body["call"]
        args = unwrap(self.evaluate(body.get("args", {}), variables))
        self.calls.append((target, args))
        if target == "sys.log":
            self.logs.append(args)
            result = None
        elif target == "sys.sleep":
            self.clock += args["seconds"]
            result = None
        else:
            result = self.connectors[target](args)
        if "result" in body:
            variables[body["result"]] = wrap(result)

    @staticmethod
    def _assign(target: str, value: Any, variables: dict[str, Any]) -> None:
        parts = re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\[\d+\]", target)
        if len(parts) == 1:
            variables[parts[0]] = value
            return
        holder: Any = variables[parts[0]]
        for part in parts[1:-1]:
            holder = holder[int(part[1:-1])] if part.startswith("[") else holder[part]
        last = parts[-1]
        if last.startswith("["):
            holder[int(last[1:-1])] = value
        else:
            holder[last] = value
