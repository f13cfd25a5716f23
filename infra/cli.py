"""`mlinfra`: plan a stack offline, validate a stack file, print the stack-file schema, set up the state backend.

User errors are printed without a traceback; set MLINFRA_DEBUG=1 to see one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from infra.stackfile import stack_argument

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="mlinfra", description=__doc__.splitlines()[0])
    parser.add_argument("--project-dir", type=Path, default=None,
                        help="the directory holding Pulumi.yaml (default: found from the current directory)")
    sub = parser.add_subparsers(dest="command", required=True)

    plan = sub.add_parser("plan", help="run the program for a stack under Pulumi's mock engine, offline")
    plan.add_argument("--stack", "-s", required=True, type=stack_argument, help="stack name: stacks/Pulumi.<stack>.yaml")
    plan.add_argument("--json", dest="json_out", type=Path, help="also write the plan shaped like `pulumi preview --json`")
    plan.add_argument("--k8s-out", type=Path, metavar="DIR",
                      help="also write every Kubernetes object the program creates as YAML, one file per object")
    plan.add_argument("--quiet", "-q", action="store_true", help="print summary lines instead of the tree")
    plan.add_argument("--strict", action="store_true", help="exit non-zero when a guardrail is violated (CI)")
    plan.add_argument("--format", choices=("tree", "markdown"), default="tree",
                      help="markdown: summary, guardrails and a Mermaid diagram, for a PR comment")

    validate = sub.add_parser("validate", help="check a stack file alone, without planning")
    validate.add_argument("--stack", "-s", required=True, type=stack_argument,
                          help="stack name: stacks/Pulumi.<stack>.yaml (or that path)")

    schema = sub.add_parser("schema", help="print the JSON Schema of stack files (for editor autocomplete)")
    schema.add_argument("--out", type=Path, help="write it to a file instead of stdout")
    schema.add_argument("--markdown", action="store_true", help="print the key reference table instead")
    schema.add_argument("--cloud", choices=["gcp", "aws", "bootstrap"], default="gcp",
                        help="the schema of stacks on this cloud, or of the bootstrap stack (default gcp)")
    schema.add_argument("--update-readme", type=Path, metavar="README",
                        help="rewrite the reference table between the markers of this README")

    backend = sub.add_parser("backend", help="bootstrap the Pulumi state backend: a hardened bucket and a KMS key")
    backend_sub = backend.add_subparsers(dest="backend_command", required=True)
    init = backend_sub.add_parser("init", help="create (idempotently) the state bucket and the secrets-provider key, "
                                               "then print the `pulumi login` and `--secrets-provider` lines")
    init.add_argument("--cloud", required=True, choices=["aws", "gcp"])
    init.add_argument("--bucket", required=True, help="the state bucket's name (global on both clouds)")
    init.add_argument("--region", help="AWS region of the bucket and key (default: AWS_REGION / the profile's)")
    init.add_argument("--location", help="GCP location of the bucket and key ring: a region, or US / EU / ASIA")
    init.add_argument("--project", help="GCP project (default: GOOGLE_CLOUD_PROJECT)")
    init.add_argument("--endpoint-url", help="AWS only: an S3/KMS/STS-compatible endpoint (default: AWS_ENDPOINT_URL)")
    init.add_argument("--dry-run", action="store_true", help="report what would be created or changed; change nothing")
    init.add_argument("--fix", action="store_true", help="repair the weak settings of an existing bucket or key "
                                                         "instead of refusing it")
    from infra.ci.command import add_parser as add_ci_parser

    add_ci_parser(sub)
    from infra.rollout import add_parser as add_rollout_parser

    add_rollout_parser(sub)
    from infra.adopt import add_parser as add_import_parser

    add_import_parser(sub)

    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except BrokenPipeError:
        # The reader went away (`mlinfra plan ... | head`): not an error of ours or the user's.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:  # noqa: BLE001 - every user-facing failure ends here
        if os.environ.get("MLINFRA_DEBUG") == "1":
            raise
        print(_describe(error), file=sys.stderr)
        return EXIT_ERROR


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "schema":
        from infra import reference

        if args.update_readme:
            args.update_readme.write_text(reference.replace_in(args.update_readme.read_text()))
            return EXIT_OK
        text = reference.markdown() + "\n" if args.markdown else json.dumps(reference.json_schema(args.cloud), indent=2) + "\n"
        if args.out:
            args.out.write_text(text)
        else:
            sys.stdout.write(text)
        return EXIT_OK

    if args.command == "backend":  # needs no Pulumi project: it runs before the first `pulumi login`
        from infra.backend import run

        return run(args)

    from infra.stackfile import find_project

    project = find_project(args.project_dir)
    if args.command == "ci":
        from infra.ci.command import run as run_ci

        return run_ci(args, project)
    if args.command == "import-file":
        from infra.adopt import run as run_import

        return run_import(args, project)
    if args.command == "rollout":
        from infra.rollout import run as run_rollout

        return run_rollout(args, project)
    if args.command == "validate":
        from infra import config
        from infra.stackfile import read_stack_config, to_engine_config

        path = project.stack_file(args.stack)
        if not path.is_file():
            raise FileNotFoundError(f"no stack file {project.display(path)} (stacks: {', '.join(project.stacks()) or 'none'})")
        values, _ = to_engine_config(read_stack_config(path, project.display(path)))
        loaded = config.load(values, stack=args.stack, file=project.display(path), root=project.root)
        cfg = loaded.mlinfra
        print(f"{loaded.file}: valid ({cfg.pattern} pattern, {cfg.environment}, "
              f"{len(cfg.services)} services, {len(getattr(cfg, 'triggers', ()))} triggers)")
        return EXIT_OK

    from infra.plan import plan_stack, render_tree, write_json, write_manifests

    from infra.guardrails import violations

    result = plan_stack(project, args.stack)
    verdicts = result.verdicts
    # With --format markdown, stdout is the document; the notes about written files go to stderr.
    notes = sys.stderr if args.format == "markdown" else sys.stdout
    if args.format == "markdown":
        from infra.markdown import render

        sys.stdout.write(render(result))
    elif args.quiet:
        counts = result.recording.count_by_type()
        cloud = sum(n for t, n in counts.items() if not t.startswith("mlinfra:"))
        status = {s: sum(1 for v in verdicts if v.status == s) for s in ("holds", "violated", "waived")}
        print(f"{result.file}: {cloud} cloud resources planned offline in {result.seconds:.1f}s; guardrails: "
              f"{status['holds']} hold, {status['violated']} violated, {status['waived']} waived")
        from infra.cost import render as cost

        print(f"{result.file}: {cost.summary(cost.of_plan(result))}")
        for v in verdicts:
            for finding in v.findings:
                print(f"  FAIL {v.rule} {finding.name}: {finding.message}")
    else:
        print(render_tree(result))
    if args.json_out:
        write_json(result, args.json_out)
        print(f"wrote {args.json_out}", file=notes)
    if args.k8s_out:
        files = write_manifests(result, args.k8s_out)
        print(f"wrote {len(files)} Kubernetes manifests to {args.k8s_out}", file=notes)
    failed = sorted({f.rule for f in violations(verdicts)})
    if failed and args.strict:
        print(f"{result.file}: guardrails violated: {', '.join(failed)} (waive one in the stack file with "
              f"mlinfra:waivers and a written reason, or fix it)", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _describe(error: Exception) -> str:
    from components.core.issues import InputError
    from infra.backend.common import BackendError
    from infra.errors import ConfigError
    from infra.mocks import UnknownInvoke
    from infra.stackfile import StackFileError

    if isinstance(error, (ConfigError, BackendError)):
        return str(error)
    if isinstance(error, InputError):
        return f"invalid component inputs: {error}"
    from infra.ci.stacks import CIError

    if isinstance(error, CIError):
        return f"mlinfra ci: {error}"
    if isinstance(error, StackFileError):
        return f"{error}\nNothing was planned or created."
    if isinstance(error, (UnknownInvoke, FileNotFoundError)):
        return f"mlinfra: {error}"
    if error.__class__.__name__ == "ProjectNotFound":
        return f"mlinfra: {error}"
    return (f"mlinfra: {type(error).__name__}: {error}\n"
            "This is a bug in mlinfra, not in your stack file; rerun with MLINFRA_DEBUG=1 for the traceback.")


if __name__ == "__main__":
    sys.exit(main())
