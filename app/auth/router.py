"""HTTP for API keys (admin only)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from app import errors
from app.auth import service
from app.auth.dependencies import ConfirmedAdmin, ConfirmedAdminActor, require_role
from app.auth.models import ApiKey, Role
from app.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from app.config import Settings
from app.dependencies import CurrentSettings, ReadSession, WriteSession
from app.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from app.types import QueryFlag, in_local_time

router = APIRouter(prefix="/v1/api-keys", tags=["keys"], dependencies=[Depends(require_role(Role.admin))])


def _out(key: ApiKey, settings: Settings) -> ApiKeyOut:
    return in_local_time(ApiKeyOut.model_validate(key, from_attributes=True), settings.tz)


@router.post(
    "",
    operation_id="createApiKey",
    status_code=status.HTTP_201_CREATED,
    summary="Issue an API key",
    description="The key is in this response only; tousu keeps its SHA-256. A store key is bound to one store, "
    "a department key to one department.",
    responses=errors.responses(Unauthorized, Forbidden, InvalidInput),
)
def create_api_key(
    body: ApiKeyCreate, actor: ConfirmedAdminActor, session: WriteSession, settings: CurrentSettings
) -> ApiKeyCreated:
    key, secret = service.create_key(
        session,
        name=body.name,
        role=body.role,
        store_id=body.store_id,
        department=body.department,
        created_by=actor.name,
    )
    return ApiKeyCreated(**_out(key, settings).model_dump(), key=secret)


@router.get(
    "",
    operation_id="listApiKeys",
    summary="List API keys",
    description="Keys without their secrets; revoked keys only when asked for.",
    responses=errors.responses(Unauthorized, Forbidden, 422),
)
def list_api_keys(
    _admin: ConfirmedAdmin,
    session: ReadSession,
    settings: CurrentSettings,
    include_revoked: Annotated[QueryFlag, Query()] = False,
) -> list[ApiKeyOut]:
    return [_out(key, settings) for key in service.list_keys(session, include_revoked=include_revoked)]


@router.delete(
    "/{key_id}",
    operation_id="revokeApiKey",
    summary="Revoke an API key",
    description="The key stops working at once. It stays listed (with `include_revoked`) for the audit trail.",
    responses=errors.responses(Unauthorized, Forbidden, NotFound, 422),
)
def revoke_api_key(
    key_id: uuid.UUID, _actor: ConfirmedAdminActor, session: WriteSession, settings: CurrentSettings, request: Request
) -> ApiKeyOut:
    revoked = service.revoke_key(session, key_id)
    request.app.state.keys.forget(key_id)
    return _out(revoked, settings)
