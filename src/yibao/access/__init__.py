"""Who may do what: logins, sessions, the four roles (insured, institution, auditor, admin), password
hashing and the access log ("who read my record").  Storage in ``store`` / ``schema``; no web framework."""
