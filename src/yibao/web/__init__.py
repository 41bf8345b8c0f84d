"""The HTTP face: one FastAPI application (``app.create_app``) serving the national-style transactions
(国家医保接口 envelope), REST resources, FHIR R4, the patient portal and the bureau dashboard pages.
Routes are thin: they authenticate, parse, call a use case or a capability, and render."""
