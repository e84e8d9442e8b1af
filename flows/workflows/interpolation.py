"""Variable interpolation (reference §5.5): `${name}` → the run variable, "" when missing.

The implementation lives in `flows.stages.interpolation` because stages interpolate their
parameters when resolved, and stages sit below this package in the layering.
"""

from flows.stages.interpolation import VARIABLE, has_variables, interpolate

__all__ = ["VARIABLE", "has_variables", "interpolate"]
