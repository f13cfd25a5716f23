"""Environment variables a serverless platform refuses: names it sets itself, names set twice
(plainly and from a secret), names mlinfra sets (plain data and one rule function, no Pulumi).

Cloud Run's container runtime contract (cloud.google.com/run/docs/container-contract) reserves
PORT, K_SERVICE, K_REVISION and K_CONFIGURATION; functions add FUNCTION_TARGET and
FUNCTION_SIGNATURE_TYPE and refuse the X_GOOGLE_ prefix
(cloud.google.com/run/docs/configuring/services/overview-environment-variables). A job's tasks
get CLOUD_RUN_JOB, CLOUD_RUN_EXECUTION, CLOUD_RUN_TASK_INDEX, CLOUD_RUN_TASK_ATTEMPT and
CLOUD_RUN_TASK_COUNT instead, reserved the same way (.../configuring/jobs/environment-variables).
"""

from __future__ import annotations

from typing import Mapping, Sequence

from components.core.issues import Issue, one_of

CLOUD_RUN_RESERVED = ("PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION")
CLOUD_RUN_JOB_RESERVED = ("CLOUD_RUN_JOB", "CLOUD_RUN_EXECUTION", "CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_ATTEMPT",
                          "CLOUD_RUN_TASK_COUNT")
FUNCTION_RESERVED = ("PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION", "FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE")
FUNCTION_RESERVED_PREFIX = "X_GOOGLE_"


def env_issues(env: Mapping[str, str], secret_envs: Sequence[str], *, platform: str, reserved: Sequence[str],
               reserved_prefix: str | None = None, set_by_mlinfra: Sequence[str] = ()) -> list[Issue]:
    """Issues on `env.<NAME>` and `secrets[i].env`, paths relative to the spec."""
    issues: list[Issue] = []
    named = [(("env", name), name) for name in env] + [(("secrets", i, "env"), name) for i, name in enumerate(secret_envs)]
    seen: dict[str, tuple] = {}
    for path, name in named:
        if name in reserved or (reserved_prefix and name.startswith(reserved_prefix)):
            what = f"keeps the {reserved_prefix} prefix for itself" if name not in reserved else f"sets {name} itself"
            issues.append(Issue(path, f"{platform} {what} and refuses it in a deploy", name,
                                allowed=f"any name but {one_of(reserved)}" + (f" or {reserved_prefix}*" if reserved_prefix else ""),
                                fix="rename the variable (read the platform's value, e.g. PORT, from the environment)"))
        elif name in set_by_mlinfra:
            issues.append(Issue(path, f"is set by mlinfra for the model it mounts; {platform} refuses a name set twice",
                                name, allowed=f"any name but {one_of(set_by_mlinfra)}", fix="rename or remove it"))
        elif name in seen:
            first = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in seen[name]).replace(".[", "[")
            issues.append(Issue(path, f"is also set by {first}; {platform} refuses a variable set both plainly and "
                                "from a secret", name, fix="keep one: the secret if the value is sensitive"))
        seen.setdefault(name, path)
    return issues
