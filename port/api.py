"""Shared API plumbing: error mapping and Idempotency-Key replay."""

import hashlib
import json

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from port import outage
from port.errors import InvalidInput, TransitionNotAllowed
from port.models import IdempotencyRecord

IDEMPOTENCY_HEADER = "Idempotency-Key"


class Router(DefaultRouter):
    """The API's router: an object's id in a path is digits, so /things/null,null/ is a 404
    (not a ValueError in a view) and the schema says so."""

    def get_lookup_regex(self, viewset, lookup_prefix=""):
        if not getattr(viewset, "lookup_value_regex", None):
            viewset.lookup_value_regex = "[0-9]+"
        return super().get_lookup_regex(viewset, lookup_prefix)


def exception_handler(exc, context):
    """Domain errors become 400/404/409 with field-level messages, never 500; a database
    outage is a 503 with Retry-After (port/outage.py)."""
    if outage.is_outage(exc):
        set_rollback()
        return Response(
            {"detail": outage.api_detail()},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(outage.RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, InvalidInput):
        exc = DRFValidationError(exc.errors)
    elif isinstance(exc, ObjectDoesNotExist):  # an id in the body that names nothing
        exc = NotFound()
    elif isinstance(exc, DjangoValidationError):
        exc = DRFValidationError(_validation_detail(exc))
    elif isinstance(exc, TransitionNotAllowed):
        return Response({"detail": str(exc), "status": exc.old}, status=status.HTTP_409_CONFLICT)
    return drf_exception_handler(exc, context)


def _validation_detail(error: DjangoValidationError):
    return error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages}


class IdempotentMixin:
    """Runs a POST once per Idempotency-Key (`run_once`): a retry replays the first response.

    The record is inserted in the same transaction as what the POST writes; a concurrent
    twin waits on its unique key and then replays the committed response. A key reused
    with a different body is refused with 422.
    """

    def run_once(self, request, run) -> Response:
        """Run `run(request) -> Response` once per Idempotency-Key; a retry replays it.

        Any POST of the viewset can use it, as the resubmission of a certificate does.
        """
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if not key:
            return run(request)
        if len(key) > 100:
            raise DRFValidationError({IDEMPOTENCY_HEADER: ["At most 100 characters."]})
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            record, claimed = _claim(request, key, fingerprint)
            if claimed:
                response = run(request)
                if response.status_code >= 400:
                    transaction.set_rollback(
                        True
                    )  # a refused attempt is not kept; a retry may pass
                    return response
                record.status_code = response.status_code
                record.body = response.data
                record.save(update_fields=["status_code", "body"])
                return response
        if record.fingerprint != fingerprint:
            return Response(
                {IDEMPOTENCY_HEADER: ["This key was used for a different request."]},
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        return Response(
            record.body, status=record.status_code, headers={"Idempotent-Replayed": "true"}
        )


class IdempotentCreateMixin(IdempotentMixin):
    """`create` through `run_once`; viewsets implement `create_once(request) -> Response`."""

    def create_once(self, request):
        raise NotImplementedError

    def create(self, request, *args, **kwargs):
        return self.run_once(request, self.create_once)


def _claim(request, key: str, fingerprint: str) -> tuple[IdempotencyRecord, bool]:
    """The record for this key, and whether this request made it. One statement: a twin's
    uncommitted row makes the insert wait for the twin, then do nothing (no savepoint)."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO port_idempotencyrecord (user_id, key, fingerprint, created_at)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (user_id, key) DO NOTHING RETURNING id",
            [request.user.pk, key, fingerprint, now],
        )
        made = cursor.fetchone()
    if made:
        record = IdempotencyRecord(
            pk=made[0], user=request.user, key=key, fingerprint=fingerprint, created_at=now
        )
        return record, True
    # The twin's transaction has committed (the insert waited for it), so its row is visible.
    return IdempotencyRecord.objects.get(user=request.user, key=key), False


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path} {body}".encode()).hexdigest()
