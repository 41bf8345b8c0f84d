"""Enrolment (参保登记), contributions (缴费) and eligibility (待遇资格) — who is covered, for what, since when.

Pure core: ``model`` (data shapes), ``policy`` (the region's ``yibao.enrolment/1`` file), ``history``
(relation events → segments, status on a day), ``contributions`` (wage base, rates, premiums, arrears),
``eligibility`` (compiled status intervals: waiting periods, newborns, retirees, incentives), ``check``
(the benefit check for settlement, its vectorised twin, the 2001 answer), ``roster`` (an employer's monthly
roster → events and contributions), ``figures`` (coverage, continuity, arrears, fund income).
Adapters: ``files`` (collection file and roster validation, Polars), ``schema`` / ``store`` (database).
The model and every rule's source: docs/ENROLMENT.md.
"""
