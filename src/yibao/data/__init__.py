"""Data files shared by several capabilities (the national working-day calendar)."""
