"""The visit lifecycle of the national interface (2201–2208, 2301–2305, 2401–2405): pure core
(:mod:`yibao.encounter.core`) and its records (:mod:`yibao.encounter.store`)."""
