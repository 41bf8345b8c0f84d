"""A day of a hospital: data, plan, books, session and the driver that plays it against a server."""
