"""SMART App Launch for third-party apps (the OAuth 2 server, with Authlib).

* ``GET /fhir/.well-known/smart-configuration`` (and at the site root): the discovery document.
* ``GET/POST /oauth/authorize``: authorisation code with PKCE (S256 only); the person logs in and decides
  on the consent page (:mod:`yibao.web.portal.smart_pages`), choosing whose data (self or a linked family
  member) and which of the requested scopes.
* ``POST /oauth/token``: the code and the PKCE verifier for an access token (one hour; no refresh
  tokens), answered with the ``patient`` in context and the scopes granted.
* ``POST /oauth/revoke``: RFC 7009 revocation by the app; the person revokes on ``/me/apps``.
* ``POST /oauth/apps`` (admin): register an app.

Access tokens are accepted only on ``/fhir`` (:func:`smart_access`), never as a login session, and only
within their scopes and their one patient.  TLS is expected to end at the reverse proxy, so Authlib's
check that the request itself came over https is not made here (docs/FHIR.md)."""

from __future__ import annotations

import re
from typing import Annotated, Any, cast
from urllib.parse import urlencode

from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from yibao.access.principal import Principal
from yibao.smart import scopes as sc
from yibao.smart.store import Access, AppRow, SmartStore
from yibao.web.auth import require

router = APIRouter(tags=["SMART App Launch"])
Admin = Annotated[Principal, Depends(require("admin"))]


def smart_store(request: Request) -> SmartStore:
    st = getattr(request.app.state, "smart_store", None)
    if st is None:
        st = request.app.state.smart_store = SmartStore(request.app.state.store.engine)
    return cast(SmartStore, st)


def bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization") or ""
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def smart_access(request: Request) -> Access | None:
    """The app authorisation behind this request's bearer token, if it is a SMART access token."""
    cached = getattr(request.state, "smart_access", None)
    if isinstance(cached, Access):
        return cached
    token = bearer(request)
    access = smart_store(request).access_for_token(token) if token else None
    if access is not None:
        request.state.smart_access = access
    return access


# ---------------------------------------------------------------------------- Authlib models
class Client:
    """A registered app as Authlib's ClientMixin sees it."""

    def __init__(self, app: AppRow) -> None:
        self.app = app

    def get_client_id(self) -> str:
        return self.app.client_id

    def get_default_redirect_uri(self) -> str:
        return self.app.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(sc.split(self.app.scope))
        return " ".join(s for s in sc.split(scope or "") if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.app.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return SmartStore.check_secret(self.app, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.app.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


class Code:
    """A stored authorisation code as Authlib's AuthorizationCodeMixin sees it."""

    def __init__(self, code: str, row: Any) -> None:
        self.code, self.row = code, row
        self.code_challenge, self.code_challenge_method = row.challenge, row.method

    def get_redirect_uri(self) -> str:
        return str(self.row.redirect_uri)

    def get_scope(self) -> str:
        return str(self.row.scope)


class _Request(OAuth2Request):
    """An already-read request (method, url, form or query, headers)."""

    def __init__(self, method: str, uri: str, data: dict[str, str], headers: dict[str, str]) -> None:
        # not super().__init__: its https check belongs at the TLS end, the reverse proxy
        self.method, self.uri, self.headers = method, uri, headers
        self._body = None
        self._data = data
        self.payload = BasicOAuth2Payload(data)
        self.client = self.auth_method = self.user = self.authorization_code = None
        self.refresh_token = self.credential = None
        self._scope = None

    @property
    def args(self) -> dict[str, str]:
        return self._data

    @property
    def form(self) -> dict[str, str]:
        return self._data


class _S256Only(CodeChallenge):
    """PKCE required on every authorisation request, S256 only (RFC 7636; SMART App Launch 2)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        from authlib.oauth2.rfc6749.errors import InvalidRequestError

        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge with code_challenge_method=S256 is required (PKCE)")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: Any) -> str:
        return str(authorization_code.code_challenge)

    def get_authorization_code_challenge_method(self, authorization_code: Any) -> str:
        return str(authorization_code.code_challenge_method)


class _CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

    def save_authorization_code(self, code: str, request: Any) -> None:
        user = request.user  # {"user_id", "psn_no"} from the consent page
        data = request.payload.data
        self.server.store.save_code(
            code,
            user_id=user["user_id"],
            client_id=request.client.get_client_id(),
            psn_no=user["psn_no"],
            scope=user["scope"],
            redirect_uri=request.payload.redirect_uri or request.client.get_default_redirect_uri(),
            challenge=data["code_challenge"],
            method=data["code_challenge_method"],
        )

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        row = self.server.store.find_code(code, client.get_client_id())
        return Code(code, row) if row is not None else None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        self.server.store.use_code(authorization_code.code)

    def authenticate_user(self, authorization_code: Code) -> dict[str, str] | None:
        if not self.server.store.use_code(authorization_code.code):
            return None  # redeemed concurrently
        return {"grant_id": authorization_code.row.grant_id, "psn_no": authorization_code.row.psn_no}

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        code: Code = self.request.authorization_code
        user = self.authenticate_user(code)
        if not user:
            from authlib.oauth2.rfc6749.errors import InvalidGrantError

            raise InvalidGrantError("the code was already used")
        token, seconds = self.server.store.issue_token(user["grant_id"])
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": seconds,
            "scope": code.get_scope(),
            "patient": user["psn_no"],
        }
        return 200, body, self.TOKEN_RESPONSE_HEADER


class _Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

    def query_token(self, token_string: str, token_type_hint: str | None) -> str:
        return token_string

    def authenticate_token(self, request: Any, client: Any) -> str:
        self.check_params(request, client)
        return str(request.form["token"])

    def revoke_token(self, token: str, request: Any) -> None:
        self.server.store.revoke_token(token, request.client.get_client_id())


class Server(AuthorizationServer):
    """Authlib's authorisation server over :class:`SmartStore`."""

    def __init__(self, store: SmartStore) -> None:
        super().__init__(scopes_supported=None)
        self.store = store
        self.register_grant(_CodeGrant, [_S256Only(required=True)])
        self.register_endpoint(_Revocation)

    def query_client(self, client_id: str) -> Client | None:
        app = self.store.get_app(client_id)
        return Client(app) if app is not None and app.active else None

    def save_token(self, token: Any, request: Any) -> None:  # tokens are saved by the grant
        return None

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return cast(OAuth2Request, request)

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        hdrs = dict(headers or [])
        if isinstance(body, dict):
            return JSONResponse(body, status_code=status, headers=hdrs)
        return Response(body or "", status_code=status, headers=hdrs)

    def validate_requested_scope(self, scope: str | None) -> None:
        from authlib.oauth2.rfc6749.errors import InvalidScopeError

        bad = [s for s in sc.split(scope or "") if not sc.supported(s)]
        if bad or not sc.readable_types(sc.split(scope or "")):
            raise InvalidScopeError(f"unsupported or no readable scope: {' '.join(bad) or scope!r}")


def oauth_server(request: Request) -> Server:
    srv = getattr(request.app.state, "smart_server", None)
    if srv is None:
        srv = request.app.state.smart_server = Server(smart_store(request))
    return cast(Server, srv)


def oauth_request(request: Request, data: dict[str, str]) -> _Request:
    return _Request(request.method, str(request.url), data, dict(request.headers))


# ---------------------------------------------------------------------------- routes
SUPPORTED_SCOPES = [
    "launch/patient",
    "patient/*.read",
    "patient/*.rs",
    *[f"patient/{t}.read" for t in sc.READABLE],
    *[f"patient/{t}.rs" for t in sc.READABLE],
]


def configuration(base: str) -> dict[str, Any]:
    """The SMART discovery document for the server at ``base`` (no trailing slash)."""
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "grant_types_supported": ["authorization_code"],
        "response_types_supported": ["code"],
        "scopes_supported": SUPPORTED_SCOPES,
        "code_challenge_methods_supported": ["S256"],
        "capabilities": [
            "launch-standalone",
            "client-public",
            "client-confidential-symmetric",
            "context-standalone-patient",
            "permission-patient",
            "permission-v1",
            "permission-v2",
        ],
    }


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/fhir/.well-known/smart-configuration", summary="SMART discovery (FHIR base)")
@router.get("/.well-known/smart-configuration", summary="SMART discovery")
def smart_configuration(request: Request) -> JSONResponse:
    return JSONResponse(configuration(_base(request)))


@router.post("/oauth/token", summary="OAuth 2 token endpoint (authorisation code + PKCE)")
async def token(request: Request) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    return cast(Response, oauth_server(request).create_token_response(oauth_request(request, form)))


@router.post("/oauth/revoke", summary="RFC 7009 token revocation")
async def revoke(request: Request) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    srv = oauth_server(request)
    return cast(Response, srv.create_endpoint_response("revocation", oauth_request(request, form)))


class AppIn(BaseModel):
    client_id: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._\-]+$")
    name: str = Field(min_length=1, max_length=100)
    redirect_uris: list[str] = Field(min_length=1, max_length=10)
    scope: str = "launch/patient patient/*.read patient/*.rs"
    confidential: bool = False


class AppOut(BaseModel):
    client_id: str
    name: str
    redirect_uris: list[str]
    scope: str
    client_secret: str | None = Field(None, description="shown once, for a confidential app")


@router.post("/oauth/apps", response_model=AppOut, status_code=201, summary="Register an app (admin)")
def register_app(body: AppIn, request: Request, p: Admin) -> AppOut:
    import secrets

    secret = secrets.token_urlsafe(32) if body.confidential else None
    app = smart_store(request).register_app(
        body.client_id, body.name, body.redirect_uris, scope=body.scope, secret=secret
    )
    return AppOut(
        client_id=app.client_id,
        name=app.name,
        redirect_uris=list(app.redirect_uris),
        scope=app.scope,
        client_secret=secret,
    )


def error_redirect(redirect_uri: str, error: str, state: str | None) -> str:
    params = {"error": error}
    if state:
        params["state"] = state
    return redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(params)


_CLIENT_ID = re.compile(r"^[A-Za-z0-9._\-]{1,80}$")
