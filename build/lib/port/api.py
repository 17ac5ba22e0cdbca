"""Shared API plumbing: error mapping and Idempotency-Key replay."""

import hashlib
import json

from django.db import IntegrityError, transaction
from rest_framework import status
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from port.errors import InvalidInput, TransitionNotAllowed
from port.models import IdempotencyRecord

IDEMPOTENCY_HEADER = "Idempotency-Key"


def exception_handler(exc, context):
    """Domain errors become 400/404/409 with field-level messages, never 500."""
    if isinstance(exc, InvalidInput):
        exc = DRFValidationError(exc.errors)
    elif isinstance(exc, TransitionNotAllowed):
        return Response({"detail": str(exc), "status": exc.old}, status=status.HTTP_409_CONFLICT)
    return drf_exception_handler(exc, context)


class IdempotentCreateMixin:
    """Replays the first response to a create (or an action run through `run_once`) retried
    with the same Idempotency-Key.

    The record is inserted in the same transaction as what the create writes; a
    concurrent twin waits on its unique key and then replays the committed response.
    A key reused with a different body is refused with 422. Viewsets implement
    `create_once(request) -> Response`.
    """

    def create_once(self, request):
        raise NotImplementedError

    def create(self, request, *args, **kwargs):
        return self.run_once(request, self.create_once)

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


def _claim(request, key: str, fingerprint: str) -> tuple[IdempotencyRecord, bool]:
    try:
        with transaction.atomic():  # a savepoint: a twin's key makes this insert fail
            return (
                IdempotencyRecord.objects.create(
                    user=request.user, key=key, fingerprint=fingerprint
                ),
                True,
            )
    except IntegrityError:
        # The twin's transaction has committed (the insert waited for it), so its row is visible.
        return IdempotencyRecord.objects.get(user=request.user, key=key), False


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path} {body}".encode()).hexdigest()
