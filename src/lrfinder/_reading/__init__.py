"""Reading the curve: the suggestion rules, each registered under its name in the core's registry.

Importing this package registers every rule (``import lrfinder`` does); the registry itself, with
:func:`lrfinder.suggest`, lives in the core so that a result can offer ``.suggestion`` without the
core importing upwards.
"""

from . import _classic as _classic
from . import _fall as _fall
from ._curve import read_curve as read_curve
