"""`mlinfra import-file`: adopt resources that exist already into a stack, with `pulumi import`.

The stack file first says what exists (exact names: `storage.*.name`, `serviceName`; existing
accounts: `serviceAccount`); then this command plans the stack offline and writes the file
`pulumi import --file` reads, each resource under the name and parent the program gives it, so
the next `pulumi up` finds it in the state and changes only what the stack file says differently.
The ID of each resource is derived from the planned inputs where its type's import ID is a
pattern of them (e.g. a Cloud Run service's `projects/<p>/locations/<r>/services/<name>`), or
given as `NAME=ID`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional

from infra.stackfile import Project, stack_argument

EXIT_OK, EXIT_REFUSED = 0, 1

# Import IDs by type, from the planned inputs (the forms the providers' import docs give).
IMPORT_IDS: dict[str, Callable[[dict], Optional[str]]] = {
    "gcp:storage/bucket:Bucket": lambda i: i.get("name"),
    "gcp:projects/service:Service": lambda i: _path(i, "{project}/{service}"),
    "gcp:cloudrunv2/service:Service": lambda i: _path(i, "projects/{project}/locations/{location}/services/{name}"),
    "gcp:cloudrunv2/job:Job": lambda i: _path(i, "projects/{project}/locations/{location}/jobs/{name}"),
    "gcp:artifactregistry/repository:Repository":
        lambda i: _path(i, "projects/{project}/locations/{location}/repositories/{repositoryId}"),
    "gcp:pubsub/topic:Topic": lambda i: _path(i, "projects/{project}/topics/{name}"),
    "gcp:bigquery/dataset:Dataset": lambda i: _path(i, "projects/{project}/datasets/{datasetId}"),
    "gcp:serviceaccount/account:Account":
        lambda i: _path(i, "projects/{project}/serviceAccounts/{accountId}@{project}.iam.gserviceaccount.com"),
    "gcp:compute/network:Network": lambda i: _path(i, "projects/{project}/global/networks/{name}"),
    "gcp:compute/subnetwork:Subnetwork": lambda i: _path(i, "projects/{project}/regions/{region}/subnetworks/{name}"),
    "gcp:workflows/workflow:Workflow": lambda i: _path(i, "projects/{project}/locations/{region}/workflows/{name}"),
    "gcp:memorystore/instance:Instance":
        lambda i: _path(i, "projects/{project}/locations/{location}/instances/{instanceId}"),
    "gcp:container/cluster:Cluster": lambda i: _path(i, "projects/{project}/locations/{location}/clusters/{name}"),
}


def _path(inputs: dict, template: str) -> Optional[str]:
    try:
        return template.format(**inputs)
    except KeyError:  # a name Pulumi derives at apply time: give the ID yourself
        return None


def add_parser(sub: argparse._SubParsersAction) -> None:
    command = sub.add_parser("import-file", help="write the file `pulumi import --file` reads, to adopt existing "
                                                 "resources into a stack under the names the program gives them")
    command.add_argument("--stack", "-s", required=True, type=stack_argument, help="stack name: stacks/Pulumi.<stack>.yaml")
    command.add_argument("resources", nargs="*", metavar="NAME[=ID]",
                         help="resource names as `mlinfra plan` prints them; the ID is derived where it can be")
    command.add_argument("--list", action="store_true", help="list the stack's importable resources and their IDs")
    command.add_argument("--out", type=Path, help="write the file here (default: stdout)")


def importable(recording: Any, defaults: Optional[dict] = None) -> list[tuple[Any, Optional[str]]]:
    """(registration, derived import ID or None) of every cloud resource of the plan; `defaults`
    (the provider's project and region) fill the inputs a resource leaves to the provider."""
    base = dict(defaults or {})
    return [(r, IMPORT_IDS[r.type]({**base, **r.inputs}) if r.type in IMPORT_IDS else None)
            for r in recording if r.custom and not r.type.startswith(("pulumi:", "kubernetes:"))]


def provider_defaults(config: dict) -> dict:
    region = config.get("gcp:region")
    return {k: v for k, v in {"project": config.get("gcp:project"), "region": region, "location": region}.items() if v}


def import_file(recording: Any, wanted: list[str], defaults: Optional[dict] = None) -> dict[str, Any]:
    """The `pulumi import --file` document for `wanted` (`NAME` or `NAME=ID`). Raises ValueError
    naming what cannot be imported."""
    by_name: dict[str, list] = {}
    for r, derived in importable(recording, defaults):
        by_name.setdefault(r.name, []).append((r, derived))
    stack_urn = next((r.urn for r in recording if r.type == "pulumi:pulumi:Stack"), None)
    names: dict[str, str] = {}
    resources, problems = [], []
    for entry in wanted:
        name, _, given = entry.partition("=")
        found = by_name.get(name, [])
        if len(found) != 1:
            problems.append(f"{name}: {'no cloud resource of the plan has this name' if not found else 'names ' + str(len(found)) + ' resources'}"
                            " (see `mlinfra import-file --stack <stack> --list`)")
            continue
        r, derived = found[0]
        resource_id = given or derived
        if not resource_id:
            problems.append(f"{name}: its import ID cannot be derived from the plan ({r.type}): write {name}=<ID>")
            continue
        item: dict[str, Any] = {"type": r.type, "name": r.name, "id": resource_id}
        if r.parent and r.parent != stack_urn:
            ref = names.setdefault(r.parent, f"parent{len(names)}")
            item["parent"] = ref
        resources.append(item)
    if problems:
        raise ValueError("\n".join(problems))
    return {"nameTable": {ref: urn for urn, ref in names.items()}, "resources": resources}


def run(args: argparse.Namespace, project: Project) -> int:
    from infra.plan import plan_stack

    plan = plan_stack(project, args.stack)
    if args.list:
        for r, derived in importable(plan.recording, provider_defaults(plan.config)):
            print(f"{r.name}  {r.type}  {derived or '<give its ID: NAME=ID>'}")
        return EXIT_OK
    if not args.resources:
        print("mlinfra import-file: name the resources to import (or --list them)", file=sys.stderr)
        return EXIT_REFUSED
    try:
        document = import_file(plan.recording, args.resources, provider_defaults(plan.config))
    except ValueError as error:
        print(f"mlinfra import-file: {plan.file}:\n{error}", file=sys.stderr)
        return EXIT_REFUSED
    text = json.dumps(document, indent=2) + "\n"
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out}: {len(document['resources'])} resources; then run "
              f"`pulumi import --file {args.out} --stack {args.stack}`")
    else:
        sys.stdout.write(text)
    return EXIT_OK
