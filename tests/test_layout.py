"""The tree shows the architecture: layers import only downwards, nothing imports in a circle,
no source file grows past 400 lines, and every component module declares its type token."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("components", "infra", "policy")
SOURCES = sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))

# What each layer may import of ours (prefixes); anything else is an upward or sideways edge.
ALLOWED = {
    "components": (),
    "components.core": ("components.core",),
    "components.serving": ("components.core", "components.serving"),
    "components.kubernetes": ("components.core", "components.serving", "components.kubernetes"),
    "components.gcp": ("components.core", "components.serving", "components.kubernetes", "components.gcp"),
    "components.aws": ("components.core", "components.serving", "components.kubernetes", "components.aws"),
    "components.github": ("components.core", "components.github"),
    "policy": ("policy", "components.core", "infra.guardrails"),
    "infra": PACKAGES,
}


def module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """Our modules `path` imports (every import, or only those run when it is imported)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in found if m.split(".")[0] in PACKAGES}


MODULES = {module_of(p): p for p in SOURCES}


def layer_of(module: str) -> str:
    return max((layer for layer in ALLOWED if module == layer or module.startswith(layer + ".")), key=len)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_imports_only_its_own_layer_and_those_below(path):
    module = module_of(path)
    allowed = ALLOWED[layer_of(module)]
    upward = sorted(m for m in imports(path) if not any(m == a or m.startswith(a + ".") for a in allowed))
    assert upward == [], f"{module} imports {upward}"


def test_no_module_imports_itself_in_a_circle():
    graph = {m: {t for t in imports(p, top_level_only=True) if t in MODULES and t != m} for m, p in MODULES.items()}
    state: dict[str, int] = {}

    def visit(m: str, trail: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                pytest.fail("import cycle: " + " -> ".join(trail[trail.index(t):] + [t]) if t in trail else t)
            if t not in state:
                visit(t, trail + [t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


@pytest.mark.parametrize("path", SOURCES + sorted((ROOT / "scripts").glob("*.py")) + sorted((ROOT / "bench").glob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_file_is_over_400_lines(path):
    assert len(path.read_text().splitlines()) <= 400


# Modules defining a component (not the bases, which take the type token as an argument).
COMPONENTS = [p for p in SOURCES if re.search(r"^class \w+\((Component|PatternComponent)\):", p.read_text(), re.M)
              and "def __init__(self, type_" not in p.read_text()]


@pytest.mark.parametrize("path", COMPONENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_component_declares_a_type_token_matching_its_class(path):
    text = path.read_text()
    token = re.search(r'^TYPE = "mlinfra:([a-z]+):([A-Za-z][A-Za-z0-9]*)"$', text, re.M)
    assert token, f"{path.name} has no module constant TYPE = \"mlinfra:<area>:<Class>\""
    assert f"class {token.group(2)}(" in text, f"the token names {token.group(2)}, which {path.name} does not define"
    assert "super().__init__(TYPE" in text
