"""Audit capability (医保基金智能审核与监控): rules, models and cases over suspect items (疑点).

Modules: :mod:`~yibao.audit.flags` (the shared flag contract), :mod:`~yibao.audit.rules` (rule library as
data, vectorised checks), :mod:`~yibao.audit.moments` (before / during / after), ``models``, ``scenarios``,
``cases``.  Nothing heavy is imported here.
"""
