"""`mlinfra ci ...`: generate the workflows, say which stacks a PR changes, check workflows."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

from infra.stackfile import Project, stack_argument

PLACEHOLDER = "OWNER/REPO"


def add_parser(sub: argparse._SubParsersAction) -> None:
    ci = sub.add_parser("ci", help="GitHub Actions workflows generated from the stack files")
    commands = ci.add_subparsers(dest="ci_command", required=True)
    init = commands.add_parser("init", help="write the workflows and print the identity setup per environment")
    init.add_argument("--out", type=Path, default=Path(".github/workflows"),
                      help="directory for the workflows, relative to --repo-dir (default: .github/workflows)")
    init.add_argument("--repo-dir", type=Path, default=Path("."), help="the repository root (default: .)")
    init.add_argument("--repository", help="owner/name on GitHub (default: from the git remote `origin`)")
    init.add_argument("--pool-project", help="project of the workload identity pool (default: a prod stack's)")
    init.add_argument("--state-bucket", help="the Pulumi state backend, gs://... (default: gs://<pool project>-pulumi-state)")
    init.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 if the files in --out differ from what would be generated")
    init.add_argument("--bootstrap", action="store_true",
                      help="also write stacks/Pulumi.bootstrap.yaml: a stack creating the identities and GitHub "
                           "settings instead of printing the commands (never overwrites the file)")
    init.add_argument("--owner-id", type=int, help="the repository owner's numeric GitHub id, pinned in the "
                                                   "pool's condition (default: the name only)")
    changed = commands.add_parser("changed", help="does the change since --base touch this stack? (CI step)")
    changed.add_argument("--stack", "-s", required=True, type=stack_argument, help="stack name: stacks/Pulumi.<stack>.yaml")
    changed.add_argument("--base", required=True, help="the base commit of the pull request")
    check = commands.add_parser("check", help="check workflows for least privilege and coverage of every stack")
    check.add_argument("dir", type=Path, nargs="?", default=Path(".github/workflows"))


def run(args: argparse.Namespace, project: Project) -> int:
    from infra.ci.stacks import read_stacks

    stacks = read_stacks(project)
    if args.ci_command == "init":
        return _init(args, project, stacks)
    if args.ci_command == "changed":
        return _changed(args, project, stacks)
    from infra.ci import checks

    from infra.ci.stacks import bootstrap_stacks

    problems = checks.check_directory(args.dir, [s.name for s in stacks],
                                      {s.name: s.environment for s in stacks})
    for problem in problems:
        print(problem, file=sys.stderr)
    for name in bootstrap_stacks(project):
        print(f"stack {name}: left out of the workflows on purpose (the bootstrap stack; an administrator applies it)")
    _print_grants(project, stacks)
    print(f"{args.dir}: {len(problems)} problems" if problems else f"{args.dir}: every check passes")
    return 1 if problems else 0


def _print_grants(project: Project, stacks: list) -> None:
    """Each stack's derived deploy grants: a pull request that changes them shows it here, and the
    bootstrap stack must then be applied again (nothing offline can see what is applied)."""
    from infra.ci.stack_grants import all_grants
    from infra.ci.stacks import CIError

    try:
        grants = all_grants(project, stacks)
    except CIError as error:
        print(f"deploy identities: not derived: {error}", file=sys.stderr)
        return
    for s in stacks:
        g = grants[s.name]
        what = (f"{len(g.aws_policies)} policy document(s), {sum(map(len, g.aws_policies))} characters"
                if s.cloud == "aws" else ", ".join(r.removeprefix("roles/") for r in g.deploy_roles))
        print(f"stack {s.name}: its deploy identity needs {what}")
    print("(derived from the stack files; the bootstrap stack grants them once an administrator applies it again)")


def _init(args: argparse.Namespace, project: Project, stacks: list) -> int:
    from infra.ci import identity, workflows

    out = args.out if args.out.is_absolute() else args.repo_dir / args.out
    files = workflows.generate(stacks, workflows.pulumi_version(project.root))
    if args.check:
        stale = [name for name, text in files.items()
                 if not (out / name).is_file() or (out / name).read_text() != text]
        for name in stale:
            print(f"{out / name}: differs from what `mlinfra ci init` generates; run it and commit the result",
                  file=sys.stderr)
        return 1 if stale else 0
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text)
        print(f"wrote {out / name}")
    gcp = [s for s in stacks if s.cloud == "gcp"]
    pool_project = args.pool_project or (gcp[-1].project if gcp else "")
    repository = args.repository or _repository(args.repo_dir)
    state_bucket = args.state_bucket or f"gs://{pool_project}-pulumi-state"
    print()
    if args.bootstrap:
        return _write_bootstrap(project, stacks, repository, pool_project, state_bucket, args.owner_id)
    from infra.ci.stack_grants import all_grants

    print(identity.commands(stacks, all_grants(project, stacks), repository, pool_project, state_bucket, args.owner_id),
          end="")
    return 0


def _write_bootstrap(project: Project, stacks: list, repository: str, pool_project: str, state_bucket: str,
                     owner_id: int | None) -> int:
    from infra.ci.bootstrap_file import stack_file
    from infra.ci.stacks import BOOTSTRAP, CIError

    path = project.stack_file(BOOTSTRAP)
    if path.exists():
        raise CIError(f"{project.display(path)} exists; it is left as it is (its reviewers are yours). Remove it "
                      f"to write it again, or add the new stacks' environments to it by hand")
    path.write_text(stack_file(stacks, repository, pool_project, state_bucket, owner_id))
    print(f"wrote {project.display(path)}: fill in the prod environments' reviewers, check it with "
          f"`mlinfra plan --stack {BOOTSTRAP} --strict`, then, as an administrator, `pulumi up --stack {BOOTSTRAP}`")
    return 0


def _repository(repo_dir: Path) -> str:
    """owner/name from the `origin` remote; a placeholder to fill in, said on stderr, when that
    remote is missing or not on GitHub (every trust condition printed or written would name it)."""
    try:
        done = subprocess.run(["git", "remote", "get-url", "origin"], cwd=repo_dir, capture_output=True, text=True)
    except OSError:  # no git, or no such directory
        done = None
    url = done.stdout.strip() if done is not None and done.returncode == 0 else ""
    found = re.search(r"github\.com[:/]([^/\s]+/[^/\s]+?)(?:\.git)?$", url)
    if found:
        return found.group(1)
    shown = re.sub(r"//[^/@]*@", "//", url)  # never a token written into the URL
    why = f"{shown} is not on GitHub" if url else "there is no such remote"
    print(f"warning: could not read owner/name from the git remote `origin` of {repo_dir} ({why}); the trust "
          f"conditions name the placeholder {PLACEHOLDER} instead: pass --repository owner/name", file=sys.stderr)
    return PLACEHOLDER


def _changed(args: argparse.Namespace, project: Project, stacks: list) -> int:
    from infra.ci.changes import changed_paths, stacks_changed

    names = [s.name for s in stacks]
    if args.stack not in names:
        raise FileNotFoundError(f"no stack file {project.display(project.stack_file(args.stack))} "
                                f"(stacks: {', '.join(names)})")
    paths = changed_paths(project.root, args.base)
    hit = args.stack in stacks_changed(paths, names, project.display(project.stack_dir))
    print(f"stack {args.stack}: {'changed' if hit else 'not changed'} by {len(paths)} changed files")
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a") as f:
            f.write(f"changed={'true' if hit else 'false'}\n")
    return 0
