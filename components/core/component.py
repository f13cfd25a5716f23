"""The one thing every mlinfra component shares: how children get their options.

Every component takes `(name, args, opts=None)`, declares its type token as a module constant
shaped `mlinfra:<area>:<Class>`, parents each child to itself (`self.child()`), names children
from its own name, and ends with `register_outputs`. A component whose token changed names its
former tokens, so a stack deployed under the old one adopts it instead of replacing it.
"""

from __future__ import annotations

from typing import Optional, Sequence

import pulumi


class Component(pulumi.ComponentResource):
    """A ComponentResource whose children are parented to it and inherit its `depends_on`.

    Pulumi does not pass a component's `depends_on` down to the resources it creates; the
    project APIs a pattern enables must exist before any child is created, so `child()` does.
    """

    def __init__(self, type_: str, name: str, opts: Optional[pulumi.ResourceOptions] = None,
                 former_types: Sequence[str] = ()):
        if former_types:
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                aliases=[pulumi.Alias(type_=t) for t in former_types]))
        super().__init__(type_, name, None, opts)
        self.name = name
        deps = opts.depends_on if opts is not None else None
        if deps is None:
            self._inherited_deps: list = []
        elif isinstance(deps, (list, tuple)):
            self._inherited_deps = list(deps)
        else:
            self._inherited_deps = [deps]

    def child(self, *, depends_on: Optional[list] = None, **options) -> pulumi.ResourceOptions:
        deps = self._inherited_deps + list(depends_on or [])
        return pulumi.ResourceOptions(parent=self, depends_on=deps or None, **options)
