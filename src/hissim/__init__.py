"""hissim — a hospital information system (HIS) simulator for the national medical-security interface.

Written from the national specification (《医疗保障信息平台 定点医药机构接口规范》), not from any server:
``hissim.spec`` holds the transactions as data, ``hissim.validate`` checks messages field by field,
``hissim.envelope`` builds envelopes (msgid, sign_no, SM3/SM2 cainfo), ``hissim.client`` posts them, and
``hissim.scenario`` plays a day of a hospital and checks every answer. It imports nothing of yibao.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
