"""互联网医疗 — payment in medical consortia and internet hospitals (《医联体背景下互联网医院支付资源下沉策略》): online follow-up to delivery
(处方流转), credit pay (先诊疗后付费), remote consultation (远程会诊), family-doctor contracts with capitation
(按人头付费), and commercial cover in the same bill (医保+商保一单制) with the insurer as a counter-party.

Pure cores: :mod:`~yibao.care.policy` (parameters), :mod:`~yibao.care.online`, :mod:`~yibao.care.credit`,
:mod:`~yibao.care.consult`, :mod:`~yibao.care.capitation`, :mod:`~yibao.care.commercial`,
:mod:`~yibao.care.figures`.  Use cases on the database: :mod:`~yibao.care.store`.
"""
