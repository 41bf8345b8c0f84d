"""App authorisations (SMART App Launch): the apps registered with the bureau, the person's consents
(grants) to an app, and the codes and access tokens issued under them.  ``scopes`` is the pure core (what
a scope allows); ``store`` keeps the records; the OAuth 2 server and the consent pages are faces in
``yibao.web.smart`` and ``yibao.web.portal.smart_pages``."""
