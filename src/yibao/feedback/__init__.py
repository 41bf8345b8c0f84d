"""What insured persons ask of and tell the bureau: filings (备案), complaints and fraud reports with a
service clock, and satisfaction ratings — a pure core (``core``) and its store (``store``, ``schema``)."""
