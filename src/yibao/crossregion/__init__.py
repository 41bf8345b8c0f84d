"""``yibao.crossregion``: 异地就医直接结算 — filing (备案), routing a visitor's visit through the clearing hub
to the insured region, monthly clearing between regions against prepayment funds, and reconciliation.

Pure cores: :mod:`.filing`, :mod:`.clearing`; adapters: :mod:`.store` (the region's tables), :mod:`.hub`
(the clearing hub standing for the national platform)."""
