"""The zone's API: an enterprise's stock, movements (one document or an ERP batch) and
transits; the gate's camera reads; a terminal's e-seal reads. Views validate the shape,
services do the work."""

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from port import uploads as port_uploads
from port.api import IDEMPOTENCY_HEADER, IdempotentCreateMixin
from zones import queries, services
from zones.models import GatePassage, Movement, MovementLine, StockItem, Transit, ZoneUpload

IDEMPOTENCY = OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER)


class StockItemSerializer(serializers.ModelSerializer):
    zone = serializers.CharField(source="zone.code")

    class Meta:
        model = StockItem
        fields = [
            "id",
            "zone",
            "item_no",
            "hs_code",
            "description",
            "unit",
            "quantity",
            "value",
            "updated_at",
        ]


class MovementLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = MovementLine
        fields = [
            "item_no",
            "hs_code",
            "description",
            "unit",
            "quantity",
            "value",
            "un_number",
            "cas_number",
            "certificate_number",
            "duty_rate",
            "preferential",
            "duty",
            "consumption_rate",
            "consumption_tax",
            "vat_rate",
            "vat",
        ]


class MovementSerializer(serializers.ModelSerializer):
    lines = MovementLineSerializer(many=True, read_only=True)
    counterparty = serializers.CharField(source="counterparty.uscc", default=None)
    gate_pass = serializers.SerializerMethodField()

    class Meta:
        model = Movement
        fields = [
            "id",
            "number",
            "kind",
            "status",
            "source",
            "counterparty",
            "declaration_number",
            "duty_amount",
            "duty_declared",
            "consumption_tax_amount",
            "vat_amount",
            "tax_total",
            "amended_count",
            "gate_pass",
            "lines",
            "created_at",
        ]

    def get_gate_pass(self, movement) -> dict | None:
        gate_pass = getattr(movement, "gate_pass", None)
        if gate_pass is None:
            return None
        return {
            "direction": gate_pass.direction,
            "truck_plate": gate_pass.truck_plate,
            "container": gate_pass.container_number,
            "seal": gate_pass.seal_number,
            "declared_weight_kg": str(gate_pass.declared_weight_kg),
            "status": gate_pass.status,
            "used_at": _time(gate_pass.used_at),
            "expires_at": _time(gate_pass.expires_at),
            "hazard": gate_pass.hazard,
        }


class ZoneUploadSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = ZoneUpload
        fields = [
            "id",
            "file_name",
            "status",
            "percent",
            "total_documents",
            "processed_documents",
            "filed",
            "errors",
            "created_at",
        ]


def _time(value) -> str | None:
    return serializers.DateTimeField().to_representation(value) if value else None


DOCUMENT_HELP = (
    'One document, or {"documents": [...]} for a batch of up to 500 (all or nothing). '
    "kind: domestic_in, domestic_out, port_in, port_out, transfer; truck_plate, container, "
    "seal, declared_weight_kg for a truck; counterparty_uscc for a transfer; "
    "declaration_number for an exit to the domestic market (its duty, consumption tax and "
    "VAT are computed at the rates in force; a duty_amount given must agree); lines: item_no, "
    "hs_code, description, unit, quantity, value, un_number (dangerous goods), cas_number (a "
    "chemical's CAS number), certificate_number (a certificate of origin: its preferential "
    "rate applies to an exit to the domestic market when it is issued and valid)."
)


class StockViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Your zone account: what the system holds you have, item by item."""

    serializer_class = StockItemSerializer
    queryset = StockItem.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return queries.stock_for(user=self.request.user).select_related("zone")


class MovementViewSet(
    IdempotentCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Your zone documents. Filing one does the work of three forms: the goods movement
    (核注清单), the gate pass (核放单) and the stock change."""

    serializer_class = MovementSerializer
    queryset = Movement.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return queries.movements_for(user=self.request.user)

    @extend_schema(
        description=DOCUMENT_HELP,
        request=inline_serializer("ZoneDocument", {"documents": serializers.ListField()}),
        responses={201: MovementSerializer(many=True)},
        parameters=[IDEMPOTENCY],
    )
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def create_once(self, request):
        data = request.data
        documents = (
            data.get("documents") if isinstance(data, dict) and "documents" in data else [data]
        )
        movements = services.movement_file_many(
            user=request.user, documents=documents, source=Movement.Source.API
        )
        return Response(
            MovementSerializer(self._reload(movements), many=True).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "ZoneUploadFile", {"file": serializers.FileField()}
            )
        },
        responses={202: ZoneUploadSerializer},
        parameters=[IDEMPOTENCY],
    )
    @action(detail=False, methods=["post"], parser_classes=[MultiPartParser])
    def upload(self, request):
        """An ERP file (CSV or XLSX, one row per goods line, rows grouped by `document`):
        202 with the upload; a worker files it, `GET /api/v1/zones/uploads/{id}/` follows
        its progress, the documents filed and the errors by row."""
        return self.run_once(request, self._upload)

    def _upload(self, request):
        file = request.FILES.get("file")
        if file is None:
            raise DRFValidationError({"file": ["Attach a .csv or .xlsx file."]})
        try:
            port_uploads.check_erp_file(file)
        except ValidationError as error:
            raise DRFValidationError({"file": error.messages}) from None
        upload = services.zone_upload_create(
            user=request.user, file_name=file.name, content=file.read()
        )
        return Response(ZoneUploadSerializer(upload).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        description="The corrected document (same kind), while its truck has not passed. "
        "An exit's old lines return to the account and the new ones are taken.",
        request=inline_serializer("ZoneAmendment", {"lines": serializers.ListField()}),
        responses={200: MovementSerializer},
    )
    @action(detail=True, methods=["post"])
    def amend(self, request, pk=None):
        movement = services.movement_amend(
            user=request.user, movement_id=self._pk(pk), document=request.data
        )
        return Response(MovementSerializer(self._reload([movement]).get()).data)

    @extend_schema(
        request=inline_serializer("ZoneCancel", {"reason": serializers.CharField()}),
        responses={200: MovementSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Withdraw a document whose truck has not passed; an exit's goods return."""
        reason = request.data.get("reason", "") if isinstance(request.data, dict) else ""
        movement = services.movement_cancel(
            user=request.user, movement_id=self._pk(pk), reason=str(reason)
        )
        return Response(MovementSerializer(self._reload([movement]).get()).data)

    def _pk(self, pk) -> int:
        if not str(pk).isdigit() or len(str(pk)) > 18:
            raise DRFValidationError({"id": ["Not a movement id."]})
        return int(pk)

    def _reload(self, movements):
        return self.get_queryset().filter(pk__in=[m.pk for m in movements]).order_by("pk")


class ZoneUploadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your ERP files of zone documents and how far the worker has filed them."""

    serializer_class = ZoneUploadSerializer
    queryset = ZoneUpload.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return queries.uploads_for(user=self.request.user)


class GateReadSerializer(serializers.Serializer):
    gate = serializers.IntegerField()
    lane = serializers.IntegerField()
    truck_plate = serializers.CharField(max_length=16)
    containers = serializers.ListField(
        child=serializers.CharField(max_length=20), required=False, max_length=2
    )
    seal = serializers.CharField(max_length=30, required=False, allow_blank=True)
    weight_kg = serializers.CharField(max_length=20)
    read_at = serializers.CharField(max_length=40, required=False, allow_blank=True)
    read_id = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="The camera's id of the read; a repeat replays",
    )


class GatePassageSerializer(serializers.ModelSerializer):
    gate = serializers.CharField(source="gate.code")
    reason_text = serializers.CharField(source="get_reason_display")

    class Meta:
        model = GatePassage
        fields = [
            "id",
            "gate",
            "lane",
            "read_id",
            "truck_plate",
            "container_numbers",
            "seal_number",
            "weight_kg",
            "read_at",
            "decision",
            "reason",
            "reason_text",
            "detail",
            "hazard",
            "answer_ms",
            "created_at",
        ]


class GateReadViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Camera reads at the zone gates your customs office supervises, each answered at once:
    release or stop, with the reason."""

    serializer_class = GatePassageSerializer
    queryset = GatePassage.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return queries.passages_for(user=self.request.user)

    @extend_schema(request=GateReadSerializer, responses={201: GatePassageSerializer})
    def create(self, request):
        serializer = GateReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        read = dict(serializer.validated_data)
        passage = services.gate_read(user=request.user, gate_id=read.pop("gate"), read=read)
        return Response(GatePassageSerializer(passage).data, status=status.HTTP_201_CREATED)


class TransitSerializer(serializers.ModelSerializer):
    terminal = serializers.CharField(source="terminal.code", default=None)

    class Meta:
        model = Transit
        fields = [
            "id",
            "container_number",
            "seal_number",
            "truck_plate",
            "origin",
            "terminal",
            "declaration_number",
            "status",
            "seal_read",
            "arrived_at",
            "created_at",
        ]


class TransitOpenSerializer(serializers.Serializer):
    container = serializers.CharField(max_length=20)
    seal = serializers.CharField(max_length=30)
    origin = serializers.CharField(max_length=200)
    truck_plate = serializers.CharField(max_length=16, required=False, allow_blank=True)
    declaration_number = serializers.CharField(max_length=30, required=False, allow_blank=True)


class SealReadSerializer(serializers.Serializer):
    container = serializers.CharField(max_length=20)
    seal = serializers.CharField(max_length=30, required=False, allow_blank=True)
    seal_intact = serializers.BooleanField(default=True)
    truck_plate = serializers.CharField(max_length=16, required=False, allow_blank=True)


class TransitViewSet(IdempotentCreateMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Export transits under electronic seal (出口转关 + 电子关锁): an exporter opens one; the
    port gate's seal read writes it off, or raises a critical alarm."""

    serializer_class = TransitSerializer
    queryset = Transit.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return queries.transits_for(user=self.request.user).select_related("terminal")

    @extend_schema(
        request=TransitOpenSerializer, responses={201: TransitSerializer}, parameters=[IDEMPOTENCY]
    )
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def create_once(self, request):
        serializer = TransitOpenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        transit = services.transit_open(user=request.user, data=serializer.validated_data)
        return Response(TransitSerializer(transit).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SealReadSerializer, responses={200: TransitSerializer})
    @action(detail=False, methods=["post"], url_path="seal-reads")
    def seal_read(self, request):
        """The port gate read a container's e-seal."""
        serializer = SealReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        transit = services.transit_seal_read(user=request.user, data=serializer.validated_data)
        return Response(TransitSerializer(transit).data)
