"""The figures kept beside an institution's indicators (not scored) that its explanation cites: the
satisfaction samples and the reconciliation counts behind the break rate."""

from __future__ import annotations

SAMPLES = (
    "ratings_n",
    "survey_n",
    "ratings_rate",
    "survey_rate",
    "recon_periods",  # reconciliation periods counted (3201 by default)
    "recon_breaks",  # of them, not agreed
    "recon_detail_rows",  # 3202: settlements compared
    "recon_detail_unmatched",  # 3202: settlements in breaks
    "recon_given",  # 1: the break rate was given explicitly (it wins over the computed one)
)
