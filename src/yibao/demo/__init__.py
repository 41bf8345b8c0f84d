"""The Quickstart demo: a small synthetic region settled end to end through the ledger."""
