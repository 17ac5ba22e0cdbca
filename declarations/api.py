import functools

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response

from declarations import edifact, queries, services, uploads
from declarations.filters import DeclarationFilter
from declarations.models import Declaration, DeclarationItem, ErpUpload
from port import limits, representation, structure
from port import uploads as port_uploads
from port.api import IDEMPOTENCY_HEADER, IdempotentCreateMixin
from port.batch import collector_paused
from port.parsers import BatchJSONParser, read_bounded


class ItemInputSerializer(serializers.Serializer):
    """Structure only: the filing service checks every value and reports all errors at once."""

    hs_code = serializers.CharField(
        max_length=10, allow_blank=True, help_text="10-digit commodity code"
    )
    description = serializers.CharField(max_length=250, allow_blank=True)
    quantity = serializers.CharField(max_length=20, allow_blank=True, help_text="A decimal above 0")
    unit = serializers.CharField(
        max_length=4, default="kg", help_text="kg, pcs, set, l, m, m2, pair"
    )
    unit_price = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        help_text="Optional; value = quantity × unit price",
    )
    value = serializers.CharField(
        max_length=20, allow_blank=True, help_text="In the declaration's currency"
    )
    origin_country = serializers.CharField(
        max_length=2, allow_blank=True, help_text="ISO 3166 alpha-2"
    )
    cas_number = serializers.CharField(max_length=12, required=False, allow_blank=True)
    certificate_number = serializers.CharField(
        max_length=12,
        required=False,
        allow_blank=True,
        help_text="A certificate of origin: the preferential rate applies when it is valid",
    )


class EdifactParser(BaseParser):
    """A UN/EDIFACT interchange as text (UTF-8)."""

    media_type = "application/edifact"

    def parse(self, stream, media_type=None, parser_context=None):
        content = read_bounded(stream, port_uploads.max_bytes("edifact"))
        return content.decode("utf-8", errors="replace")


class EdifactPlainParser(EdifactParser):
    media_type = "text/plain"


class EdifactRenderer(BaseRenderer):
    media_type = "application/edifact"
    format = "edi"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict):  # an error from DRF itself (authentication, 404)
            data = "; ".join(f"{k}: {v}" for k, v in data.items())
        return (data or "").encode("utf-8")


class DeclarationCreateSerializer(serializers.Serializer):
    enterprise = serializers.IntegerField(
        required=False, help_text="Whose goods; defaults to your own enterprise"
    )
    direction = serializers.CharField(default="import", help_text="import or export")
    kind = serializers.CharField(
        default="full", help_text="full, or summary (step 1 of a two-step declaration)"
    )
    summary = serializers.IntegerField(
        required=False, allow_null=True, help_text="Step 2: the released summary it completes"
    )
    port_call = serializers.IntegerField(help_text="Port call id (vessel and voyage)")
    bl_number = serializers.CharField(max_length=35, allow_blank=True)
    containers = serializers.ListField(
        child=serializers.CharField(max_length=20),
        max_length=limits.MAX_CONTAINERS,
        help_text="ISO 6346 numbers",
    )
    trade_mode = serializers.CharField(max_length=4, default="0110")
    port_of_loading = serializers.CharField(max_length=6, required=False, allow_blank=True)
    port_of_discharge = serializers.CharField(max_length=6, required=False, allow_blank=True)
    trading_country = serializers.CharField(
        max_length=2, required=False, allow_blank=True, help_text="Origin (import) or destination"
    )
    currency = serializers.CharField(max_length=3, default="CNY", help_text="ISO 4217")
    incoterm = serializers.CharField(
        max_length=3, required=False, allow_blank=True, help_text="Incoterms 2020"
    )
    invoice_total = serializers.CharField(max_length=20, required=False, allow_blank=True)
    packages = serializers.CharField(max_length=10, required=False, allow_blank=True)
    gross_weight = serializers.CharField(max_length=20, required=False, allow_blank=True)
    net_weight = serializers.CharField(max_length=20, required=False, allow_blank=True)
    is_advance = serializers.BooleanField(default=False)
    direct_delivery = serializers.BooleanField(default=False)
    permits_involved = serializers.BooleanField(default=False)
    quarantine_involved = serializers.BooleanField(default=False)
    items = ItemInputSerializer(many=True, max_length=limits.MAX_GOODS_LINES)
    draft = serializers.BooleanField(
        default=False, help_text="Save as a draft instead of submitting at once"
    )


class DeclarationAmendSerializer(DeclarationCreateSerializer):
    reason = serializers.CharField(max_length=500, allow_blank=True)


class DeclarationReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, allow_blank=True)


MAX_BATCH = limits.MAX_BATCH_DECLARATIONS


class DeclarationBatchEntrySerializer(DeclarationCreateSerializer):
    reference = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="Your reference: a batch repeating it returns the declaration first filed",
    )


class DeclarationBatchSerializer(serializers.Serializer):
    declarations = DeclarationBatchEntrySerializer(many=True, max_length=MAX_BATCH)


def filing_input(fields: dict) -> services.FilingInput:
    return services.FilingInput(
        enterprise_id=fields.get("enterprise"),
        port_call_id=fields["port_call"],
        bl_number=fields["bl_number"],
        container_numbers=fields["containers"],
        items=[services.ItemInput(**item) for item in fields["items"]],
        direction=fields["direction"],
        kind=fields["kind"],
        summary_id=fields.get("summary"),
        header=services.HeaderInput(**{k: fields[k] for k in services.HEADER_NAMES if k in fields}),
    )


class ItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeclarationItem
        fields = [
            "line_number",
            "hs_code",
            "description",
            "quantity",
            "unit",
            "unit_price",
            "value",
            "origin_country",
            "cas_number",
            "certificate_number",
            "mfn_rate",
            "preferential_rate",
            "duty_estimate",
        ]


class DeclarationSerializer(serializers.ModelSerializer):
    enterprise = serializers.StringRelatedField()
    declarant = serializers.StringRelatedField()
    vessel = serializers.CharField(source="port_call.vessel.name")
    voyage = serializers.CharField(source="port_call.voyage")
    containers = serializers.SlugRelatedField(slug_field="number", many=True, read_only=True)

    class Meta:
        model = Declaration
        fields = [
            "id",
            "number",
            "direction",
            "status",
            "enterprise",
            "declarant",
            "port_call",
            "vessel",
            "voyage",
            "bl_number",
            "containers",
            "kind",
            "summary",
            "trade_mode",
            "port_of_loading",
            "port_of_discharge",
            "trading_country",
            "currency",
            "incoterm",
            "invoice_total",
            "packages",
            "gross_weight",
            "net_weight",
            "is_advance",
            "direct_delivery",
            "permits_involved",
            "quarantine_involved",
            "guarantee_amount",
            "full_due_at",
            "is_overdue",
            "submitted_at",
            "decided_at",
            "created_at",
        ]


class DecisionSerializer(serializers.Serializer):
    container = serializers.CharField(source="container.number")
    outcome = serializers.CharField()
    reasons = serializers.SerializerMethodField()

    def get_reasons(self, decision) -> list[str]:
        return [hit["reason"] for hit in decision.rules_hit]


class DeclarationDetailSerializer(DeclarationSerializer):
    items = ItemSerializer(many=True, read_only=True)
    decisions = DecisionSerializer(many=True, read_only=True)

    class Meta(DeclarationSerializer.Meta):
        fields = [*DeclarationSerializer.Meta.fields, "items", "decisions"]


@functools.cache
def _detail_representation():
    return representation.compile_representation(DeclarationDetailSerializer())


def detail_representation(declaration: Declaration) -> dict:
    """DeclarationDetailSerializer(declaration).data, planned once per process
    (`port.representation`): a ModelSerializer builds its fields from the model on every
    instance (a tenth of a filing's time), and its walk over them took 190 µs a filing."""
    return _detail_representation()(declaration)


class DeclarationBatchItemResultSerializer(serializers.Serializer):
    """For the schema: the batch answer is built as plain dicts (thousands of rows)."""

    index = serializers.IntegerField()
    reference = serializers.CharField()
    id = serializers.IntegerField(allow_null=True)
    number = serializers.CharField(allow_null=True)
    status = serializers.CharField(allow_null=True)
    errors = serializers.DictField(allow_null=True)
    replayed = serializers.BooleanField(required=False, help_text="Filed earlier, same reference")


class DeclarationBatchResultSerializer(serializers.Serializer):
    filed = serializers.IntegerField()
    refused = serializers.IntegerField()
    results = DeclarationBatchItemResultSerializer(many=True)


class DeclarationViewSet(
    IdempotentCreateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Customs declarations of your organisation. Filing submits at once for assessment."""

    filterset_class = DeclarationFilter
    queryset = Declaration.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        declarations = queries.declaration_list(user=self.request.user)
        if self.action in ("retrieve", "update"):
            return declarations.prefetch_related("items", "decisions__container")
        return declarations

    def get_serializer_class(self):
        return DeclarationDetailSerializer if self.action == "retrieve" else DeclarationSerializer

    @extend_schema(
        request=DeclarationCreateSerializer,
        responses={201: DeclarationDetailSerializer},
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER)],
    )
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def create_once(self, request):
        # The fast structure check (DRF's answers, without building the serializer's fields
        # per request): a seventh of a filing's time went to the serializer.
        fields, errors = structure.validate(DeclarationCreateSerializer, request.data)
        if errors:
            raise serializers.ValidationError(errors)
        declaration = services.declaration_file_input(
            user=request.user,
            filing=filing_input(fields),
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER, "").strip(),
            submit=not fields["draft"],
        )
        # The service answers with the declaration's lines at hand: nothing to read back.
        return Response(detail_representation(declaration), status.HTTP_201_CREATED)

    @extend_schema(
        request=DeclarationCreateSerializer, responses={200: DeclarationDetailSerializer}
    )
    def update(self, request, *args, **kwargs):
        """Replace a draft's header, containers and items (drafts only; 409 otherwise)."""
        declaration = self.get_object()
        data = DeclarationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        declaration = services.declaration_update(
            declaration_id=declaration.pk,
            user=request.user,
            filing=filing_input(data.validated_data),
        )
        return self._detail(declaration)

    @extend_schema(request=None, responses={200: DeclarationDetailSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Submit a draft for assessment."""
        declaration = services.declaration_submit(declaration=self.get_object(), user=request.user)
        return self._detail(declaration)

    @extend_schema(request=DeclarationAmendSerializer, responses={200: DeclarationDetailSerializer})
    @action(detail=True, methods=["post"])
    def amend(self, request, pk=None):
        """Amend until release, with a reason: the whole declaration as amended."""
        declaration = self.get_object()
        data = DeclarationAmendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        declaration = services.declaration_amend(
            declaration_id=declaration.pk,
            user=request.user,
            filing=filing_input(data.validated_data),
            reason=data.validated_data["reason"],
        )
        return self._detail(declaration)

    @extend_schema(
        request=DeclarationReasonSerializer, responses={200: DeclarationDetailSerializer}
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        """Withdraw before release, with a reason."""
        declaration = self.get_object()
        data = DeclarationReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        declaration = services.declaration_withdraw(
            declaration_id=declaration.pk, user=request.user, reason=data.validated_data["reason"]
        )
        return self._detail(declaration)

    @extend_schema(
        request=DeclarationBatchSerializer,
        responses={200: DeclarationBatchResultSerializer},
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER)],
    )
    @action(detail=False, methods=["post"], parser_classes=[BatchJSONParser])
    def batch(self, request):
        """File up to 5,000 declarations in one request: the good ones are filed, each bad
        one is reported by index and field.

        Each declaration is checked as a single filing is; a declaration whose `reference`
        was filed before is answered with that declaration. The whole request may carry an
        Idempotency-Key. The answer lists, in order, each id and number or its errors.
        """
        with collector_paused():  # its body, rows and answer: thousands of objects each
            return self.run_once(request, self._batch_once)

    def _batch_once(self, request):
        entries = _batch_entries(request.data)
        checked = [structure.validate(DeclarationBatchEntrySerializer, e) for e in entries]
        results = services.declarations_file(
            user=request.user,
            entries=[
                services.FilingEntry(
                    filing=filing_input(fields),
                    submit=not fields["draft"],
                    reference=fields.get("reference", ""),
                )
                for fields, _errors in checked
                if fields is not None
            ],
        )
        return Response(_batch_answer(checked, results))

    @extend_schema(
        request={"application/edifact": {"type": "string"}},
        responses={
            (201, "application/edifact"): {"type": "string"},
            (400, "application/edifact"): {"type": "string"},
        },
    )
    @action(
        detail=False,
        methods=["post"],
        parser_classes=[EdifactParser, EdifactPlainParser],
        renderer_classes=[EdifactRenderer],
    )
    def cusdec(self, request):
        """File a UN/EDIFACT CUSDEC; the answer is a CUSRES (accepted or refused).

        A refusal lists each error in an ERP/ERC/FTX group naming the segment at fault.
        """
        result = edifact.declaration_file_cusdec(user=request.user, text=request.data)
        code = status.HTTP_201_CREATED if result.declaration else status.HTTP_400_BAD_REQUEST
        return Response(result.cusres, status=code)

    @extend_schema(responses={(200, "application/edifact"): {"type": "string"}})
    @action(detail=True, methods=["get"], renderer_classes=[EdifactRenderer])
    def cusres(self, request, pk=None):
        """The declaration's current status as a UN/EDIFACT CUSRES."""
        return Response(edifact.cusres_for(self.get_object()))

    def _detail(self, declaration, code=status.HTTP_200_OK):
        declaration = (
            queries.declaration_list(user=self.request.user)
            .prefetch_related("items", "decisions__container")
            .get(pk=declaration.pk)
        )
        return Response(DeclarationDetailSerializer(declaration).data, status=code)


def _batch_entries(data) -> list:
    """The batch's declarations; a body that is not a list of at most MAX_BATCH is a 400."""
    entries = data.get("declarations") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise serializers.ValidationError({"declarations": ["Send a list of declarations."]})
    if len(entries) > MAX_BATCH:
        raise serializers.ValidationError(
            {"declarations": [f"At most {MAX_BATCH} declarations per request."]}
        )
    return entries


def _batch_answer(checked: list, results: list) -> dict:
    """Each declaration in order: filed (id, number, status) or refused (errors)."""
    filed = iter(results)
    rows = []
    for index, (fields, errors) in enumerate(checked):
        result = next(filed) if fields is not None else None
        if result is not None and result.errors:
            errors = result.errors
        declaration = result.declaration if result is not None else None
        rows.append(
            {
                "index": index,
                "reference": (fields or {}).get("reference", ""),
                "id": declaration.pk if declaration else None,
                "number": declaration.number if declaration else None,
                "status": declaration.status if declaration else None,
                "errors": errors,
                **({"replayed": True} if result is not None and result.replayed else {}),
            }
        )
    refused = sum(1 for row in rows if row["errors"])
    return {"filed": len(rows) - refused, "refused": refused, "results": rows}


class ErpUploadSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = ErpUpload
        fields = [
            "id",
            "file_name",
            "status",
            "total_declarations",
            "processed_declarations",
            "percent",
            "filed",
            "errors",
            "created_at",
        ]


class ErpUploadCreateSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV or XLSX in the layout of docs/erp-upload.md; 5 MB at most",
        validators=[port_uploads.validate_erp_file],
    )


class ErpUploadViewSet(
    IdempotentCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """ERP files of declarations: upload, then follow the progress and the per-row report."""

    serializer_class = ErpUploadSerializer
    parser_classes = [MultiPartParser]
    queryset = ErpUpload.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return queries.erp_upload_list(user=self.request.user)

    @extend_schema(
        request={"multipart/form-data": ErpUploadCreateSerializer},
        responses={202: ErpUploadSerializer},
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER)],
    )
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def create_once(self, request):
        data = ErpUploadCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        file = data.validated_data["file"]
        upload = uploads.erp_upload_create(
            user=request.user, file_name=file.name, content=file.read()
        )
        return Response(ErpUploadSerializer(upload).data, status=status.HTTP_202_ACCEPTED)
