"""The audit rule library: rules as data (:mod:`.model`), the vectorised after-run (:mod:`.batch`) and the
per-visit evaluator used before and during settlement (:mod:`.event`)."""
