"""ERP files of zone documents, filed by a Celery worker with progress the user watches.

Each document is filed on its own terms (all or nothing for it), so one bad document never
stops the others; the worker files a chunk of documents in one call when it can (one set
of statements for 50 trucks) and one by one only in a chunk that holds a bad one. Progress
is written in the same transaction as the documents it counts, so a task run again after a
lost worker resumes where the last commit left it and files nothing twice."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from port import live, outbox
from port.errors import InvalidInput
from port.models import User
from port.transitions import transition
from zones import erp, events, queries
from zones.models import Movement, ZoneUpload
from zones.services.movements import movement_file_many

CHUNK = 50
MAX_BYTES = 5 * 1024 * 1024


@transaction.atomic
def zone_upload_create(*, user: User, file_name: str, content: bytes) -> ZoneUpload:
    """Keep the file and queue its filing after commit. Refuses at once (InvalidInput
    {"file": [...]}, nothing written) a user without a zone account, an oversized file and
    a file too long or too large unzipped; the rows are read by the worker."""
    from zones.tasks import zone_upload_process_task

    account = queries.zone_enterprise_for(user)
    if account is None:
        raise PermissionDenied(_("Only a zone enterprise's declarants file zone movements."))
    if len(content) > MAX_BYTES:
        raise InvalidInput({"file": [_("The file is larger than 5 MB.")]})
    erp.check_shape(content, file_name)
    upload = ZoneUpload.objects.create(
        organisation=account.organisation,
        created_by=user,
        file_name=file_name[:200],
        content=content,
        language=(translation.get_language() or "en")[:10],
    )
    outbox.enqueue(zone_upload_process_task.name, upload_id=upload.pk)
    return upload


def zone_upload_process(*, upload_id: int) -> ZoneUpload:
    """File an upload's documents, a chunk per transaction, with progress; idempotent.
    The report's messages are in the uploader's language."""
    upload = _start(upload_id)
    if upload.status != ZoneUpload.Status.PROCESSING:
        return upload
    with translation.override(upload.language):
        return _process(upload)


def _process(upload: ZoneUpload) -> ZoneUpload:
    try:
        documents, rows = erp.documents_from_file(bytes(upload.content), upload.file_name)
    except InvalidInput as refused:
        return _finish(upload, ZoneUpload.Status.FAILED, refused.errors.get("file", []))
    ZoneUpload.objects.filter(pk=upload.pk).update(total_documents=len(documents))
    start = upload.processed_documents
    while start < len(documents):
        end = min(start + CHUNK, len(documents))
        try:
            taken = _file_chunk(upload.pk, start, documents[start:end], rows[start:end])
        except PermissionDenied as refused:  # the user left the zone enterprise meanwhile
            return _finish(upload, ZoneUpload.Status.FAILED, [str(refused)])
        if not taken:
            return upload  # another run of the task took this chunk: it goes on from there
        start = end
    return _finish(upload, ZoneUpload.Status.DONE, [])


def _start(upload_id: int) -> ZoneUpload:
    with transaction.atomic():
        upload = ZoneUpload.objects.select_for_update().get(pk=upload_id)
        if upload.status == ZoneUpload.Status.QUEUED:
            transition(upload, ZoneUpload.Status.PROCESSING)
    return upload


@transaction.atomic
def _file_chunk(upload_id: int, start: int, documents: list, rows: list) -> bool:
    upload = ZoneUpload.objects.select_for_update().get(pk=upload_id)
    if upload.processed_documents != start or upload.status != ZoneUpload.Status.PROCESSING:
        return False
    user = upload.created_by
    try:
        with transaction.atomic():
            filed = movement_file_many(
                user=user, documents=documents, source=Movement.Source.UPLOAD
            )
        pairs = list(zip(documents, filed, strict=True))
    except InvalidInput:
        pairs = []
        for doc, doc_rows in zip(documents, rows, strict=True):
            try:
                with transaction.atomic():
                    [movement] = movement_file_many(
                        user=user, documents=[doc], source=Movement.Source.UPLOAD
                    )
            except InvalidInput as error:
                upload.errors += [
                    {"document": doc["document"], "message": message}
                    for message in erp.errors_by_row(error.errors, [doc_rows])["file"]
                ]
            else:
                pairs.append((doc, movement))
    upload.filed += [
        {"document": doc["document"], "id": m.pk, "number": m.number} for doc, m in pairs
    ]
    upload.processed_documents = start + len(documents)
    upload.save(update_fields=["filed", "errors", "processed_documents", "updated_at"])
    _publish(upload)
    return True


@transaction.atomic
def _finish(upload: ZoneUpload, status: str, messages: list[str]) -> ZoneUpload:
    upload = ZoneUpload.objects.select_for_update().get(pk=upload.pk)
    if upload.is_finished:
        return upload
    upload.errors += [{"document": "", "message": m} for m in messages]
    if status == ZoneUpload.Status.DONE:
        upload.processed_documents = upload.total_documents
    transition(upload, status, extra_fields=["errors", "processed_documents"])
    _publish(upload)
    return upload


def _publish(upload: ZoneUpload) -> None:
    live.publish_on_commit(
        groups=[events.upload_group(upload.pk)], event=events.upload_progress(upload)
    )
