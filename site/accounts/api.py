from datetime import datetime

from ninja import Router, Schema, Status

from atelier_site.accounts.models import ApiToken
from atelier_site.accounts.services import token_create, token_revoke
from generation.credits import credits_summary

router = Router(tags=["account"])


class ExpiryOut(Schema):
    credits: int
    expires_at: datetime


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


class MeOut(Schema):
    username: str
    email: str
    credits: int
    next_grant_at: datetime
    next_grant_amount: int
    expiries: list[ExpiryOut]
    tokens: list[TokenOut]


@router.get("/me", response=MeOut, summary="The current user, credit balance and API tokens")
def me(request):
    user = request.auth
    summary = credits_summary(user=user)
    return {
        "username": user.username,
        "email": user.email,
        "credits": summary.balance,
        "next_grant_at": summary.next_grant_at,
        "next_grant_amount": summary.next_grant_amount,
        "expiries": [{"credits": r, "expires_at": e} for r, e in summary.expiries],
        "tokens": list(ApiToken.objects.filter(user=user, revoked_at__isnull=True)),
    }


class TokenIn(Schema):
    name: str


class TokenCreatedOut(TokenOut):
    token: str


@router.post("/tokens", response={201: TokenCreatedOut}, summary="Create an API token (shown once)")
def tokens_create(request, payload: TokenIn):
    created = token_create(user=request.auth, name=payload.name)
    t = created.token
    return Status(201, {"id": t.id, "name": t.name, "prefix": t.prefix, "created_at": t.created_at,
                 "last_used_at": t.last_used_at, "token": created.raw})


@router.delete("/tokens/{token_id}", response={204: None}, summary="Revoke an API token")
def tokens_revoke(request, token_id: int):
    token_revoke(user=request.auth, token_id=token_id)
    return Status(204, None)
