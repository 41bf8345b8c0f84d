"""Policy as data: one pooling region's (统筹区) rules in a validated, versioned file.

``load_region(path)`` reads and validates a region file and returns a :class:`Region`;
``Region.version_for(date)`` picks the version in force; :mod:`yibao.policy.compiled` turns a version
into the flat lookup tables the settlement engine reads.
"""

from yibao.policy.catalogue import CatalogueItem
from yibao.policy.compiled import CompiledPolicy, compile_version
from yibao.policy.loader import PolicyError, load_region, load_region_text
from yibao.policy.model import Region, Version

__all__ = [
    "CatalogueItem",
    "CompiledPolicy",
    "PolicyError",
    "Region",
    "Version",
    "compile_version",
    "load_region",
    "load_region_text",
]
