"""confine: transport and reaction in nanoconfined electrocatalysts.

Typical use::

    import confine
    case = confine.load_case("cases/mchs-7nm.toml", set={"electrode.potential": "-0.9 V"})
    result = confine.run(case)
    result.metrics["species"]["urea"]["ratio_interior_exterior"]
"""

__version__ = "0.1.0"

from confine.case import Case, CaseError, load_case

__all__ = ["Case", "CaseError", "__version__", "load_case"]
