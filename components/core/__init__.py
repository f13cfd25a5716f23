"""What every component and spec shares: the component base, the spec base and its
validation pass, issues, naming, units and labels."""

from components.core.component import Component
from components.core.issues import InputError, Issue, first_per_key, format_path, one_of, raise_if_any
from components.core.spec import Context, Spec, ensure_valid, validate

__all__ = ["Component", "Context", "InputError", "Issue", "Spec", "ensure_valid", "first_per_key", "format_path",
           "one_of", "raise_if_any", "validate"]
