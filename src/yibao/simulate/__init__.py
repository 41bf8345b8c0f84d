"""What-if simulator: re-settle a year of claims under a baseline and a candidate policy and report what
changes for the funds and for people (expenditure, out-of-pocket, effective ratios, catastrophic and
impoverishing spending, equity, months payable, gainers and losers).  See docs/SIMULATE.md.
"""

from yibao.simulate.assumptions import AnalysisOptions, FundAssumptions, HouseholdModel, SchemeFund
from yibao.simulate.core import SimulationReport, simulate, simulate_frames
from yibao.simulate.report import render_html, to_json, write_html

__all__ = [
    "AnalysisOptions",
    "FundAssumptions",
    "HouseholdModel",
    "SchemeFund",
    "SimulationReport",
    "render_html",
    "simulate",
    "simulate_frames",
    "to_json",
    "write_html",
]
