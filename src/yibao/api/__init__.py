"""``yibao.api``: the HTTP service — national-style transactions (国家医保接口 envelope), REST resources and
FHIR R4, with logins, roles, masking and an access log.  Entry points: :func:`yibao.api.app.create_app`,
:func:`yibao.api.serve.run`, ``yibao serve`` (:func:`yibao.api.cli.serve_cmd`)."""
