"""The patient portal: estimator, decision aid, filings (备案), complaints and fraud reports with an SLA
clock, satisfaction ratings, family (亲情) accounts — a pure core (``core``), a store (``store``) and the
web pages (``web``)."""
