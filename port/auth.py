"""Signing in: throttled by django-axes, and API tokens that expire, rotate and are revoked.

Throttle (docs/security.md): failed sign-ins on /login/, /admin/ and the token endpoint
are recorded by django-axes in the database. After AXES_FAILURE_LIMIT failures for one
account from one address, that account is locked *for that address*; after
LOGIN_ADDRESS_FAILURE_LIMIT failures from one address whatever the accounts, the address
is locked for every account; both for AXES_COOLOFF_TIME after the last failure. The same
account still signs in from another address, so nobody can lock a user out from afar.
A locked attempt gets 429 with Retry-After: JSON on the API, a page elsewhere.

Tokens: `POST /api/v1/auth/token/` (port/api_auth.py) issues a new key at each sign-in (the previous one
stops working) valid for API_TOKEN_LIFETIME; `POST /api/v1/auth/logout/` and signing out
of the site revoke it.
"""

from __future__ import annotations

import functools
from datetime import timedelta

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Sum
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from port.sql import execute_binary

# ---------------------------------------------------------------- throttling sign-ins


class LoginThrottleBackend(AxesStandaloneBackend):
    """Refuses sign-ins while locked out. A call without a request (the test client's
    login, a shell) is not a sign-in over the network and is not throttled."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class LoginAttemptHandler(AxesDatabaseHandler):
    """Axes' database handler, plus a limit per address over all accounts."""

    def get_failures(self, request, credentials=None) -> int:
        per_account = super().get_failures(request, credentials)
        per_address = (
            AccessAttempt.objects.filter(
                ip_address=request.axes_ip_address,
                attempt_time__gte=request.axes_attempt_time - get_cool_off(request),
            ).aggregate(n=Sum("failures_since_start"))["n"]
            or 0
        )
        # Past the address's limit every account counts as failed enough to be locked.
        return per_address if per_address >= settings.LOGIN_ADDRESS_FAILURE_LIMIT else per_account


def lockout_response(request, original_response=None, credentials=None):
    """429 with Retry-After: JSON for the API, the sign-in page for people."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = _(
        "Too many failed sign-ins. Try again in %(minutes)s minutes, or ask your "
        "administrator to unlock the account."
    ) % {"minutes": minutes}
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message, "code": "locked_out"}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response


# ---------------------------------------------------------------- API tokens


def token_expires(token: Token):
    return token.created + timedelta(seconds=settings.API_TOKEN_LIFETIME)


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, refused once the key is older than its lifetime.

    The key and its user are read with one plain statement: building and compiling DRF's
    `select_related` query took about a millisecond of CPU on every API request; prepared
    and bound on the server, the statement costs a quarter less again.
    """

    def authenticate_credentials(self, key):
        rows = execute_binary(_token_sql(), [key], prepare=True)
        row = rows[0] if rows else None
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token = Token.from_db(connection.alias, ["key", "user_id", "created"], row[:3])
        user = get_user_model().from_db(connection.alias, _user_fields(), row[3:])
        # The token's side only: `token.user = user` also caches the token on the user, a
        # cycle that only the garbage collector frees (docs/performance.md, session 12).
        Token._meta.get_field("user").set_cached_value(token, user)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if token_expires(token) <= timezone.now():
            raise exceptions.AuthenticationFailed(
                _("The token has expired: ask for a new one at /api/v1/auth/token/.")
            )
        return user, token


@functools.cache
def _user_fields() -> list[str]:
    return [f.attname for f in get_user_model()._meta.concrete_fields]


@functools.cache
def _token_sql() -> str:
    user = get_user_model()._meta
    columns = ", ".join(f'u."{f.column}"' for f in user.concrete_fields)
    return (
        f"SELECT t.key, t.user_id, t.created, {columns} FROM {Token._meta.db_table} t "  # noqa: S608 - names of ours
        f'JOIN {user.db_table} u ON u."{user.pk.column}" = t.user_id WHERE t.key = %s'
    )


@transaction.atomic
def token_issue(*, user) -> Token:
    """A new key for the user, replacing (and so revoking) any earlier one.

    The user's row is locked first, so two sign-ins at once issue one key after the other
    instead of colliding on the one-key-per-user constraint.
    """
    type(user).objects.select_for_update().filter(pk=user.pk).first()
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def token_revoke(*, user) -> int:
    deleted, _rows = Token.objects.filter(user=user).delete()
    return deleted


def revoke_on_logout(sender, request, user, **kwargs) -> None:
    """Signing out of the site revokes the user's API token too (user_logged_out)."""
    if user is not None:
        token_revoke(user=user)
