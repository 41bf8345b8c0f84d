"""yibao — an open-source medical-insurance (医保) platform.

Capabilities live in their own packages (``policy``, ``settlement``, ``ledger`` …); entry points
(``cli``) stay thin.  Money is integer fen everywhere inside; see :mod:`yibao.money`.
"""

__version__ = "0.1.0"
