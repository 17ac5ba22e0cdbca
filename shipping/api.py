"""The vessel filing API: port calls, filings and their reviews, manifests, EDIFACT uploads,
dangerous-goods findings and booking or requesting a boarding of a call (api_boardings.py holds
the boardings themselves). Views call services and queries only."""

from django.http import Http404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied as DRFPermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from port import limits, uploads
from port.api import IDEMPOTENCY_HEADER, IdempotentCreateMixin
from port.models import PortCall
from shipping import boardings, cargo, edifact_imports, filing_input, queries, services
from shipping.api_boardings import (
    BoardingInputSerializer,
    BoardingRequestInputSerializer,
    BoardingSerializer,
)
from shipping.models import (
    AgencyReview,
    DangerousGoodsFlag,
    EdifactImport,
    FilingDangerousGood,
    FilingPerson,
    ManifestEntry,
    VesselFiling,
)

# --- Input: structure only; the services check every value and report all errors at once ---


class PersonInputSerializer(serializers.Serializer):
    family_name = serializers.CharField(max_length=80, allow_blank=True)
    given_names = serializers.CharField(max_length=80, allow_blank=True)
    rank = serializers.CharField(max_length=40, allow_blank=True, default="")
    nationality = serializers.CharField(max_length=2, allow_blank=True, help_text="ISO 3166")
    date_of_birth = serializers.CharField(max_length=10, allow_blank=True, help_text="YYYY-MM-DD")
    document_number = serializers.CharField(max_length=20, allow_blank=True)


class DangerousGoodInputSerializer(serializers.Serializer):
    container_number = serializers.CharField(max_length=13, allow_blank=True)
    un_number = serializers.CharField(max_length=6, allow_blank=True)
    imdg_class = serializers.CharField(max_length=4, allow_blank=True)
    packing_group = serializers.CharField(max_length=3, allow_blank=True, default="")
    proper_shipping_name = serializers.CharField(max_length=200, allow_blank=True)
    stowage_position = serializers.CharField(max_length=7, allow_blank=True, default="")
    gross_mass_kg = serializers.CharField(max_length=14, allow_blank=True)


class FilingInputSerializer(serializers.Serializer):
    master_name = serializers.CharField(max_length=100, allow_blank=True)
    last_port = serializers.CharField(max_length=5, allow_blank=True, default="")
    next_port = serializers.CharField(max_length=5, allow_blank=True, default="")
    crew_count = serializers.CharField(max_length=5)
    passenger_count = serializers.CharField(max_length=5, default="0")
    cargo_description = serializers.CharField(max_length=250, allow_blank=True, default="")
    remarks = serializers.CharField(allow_blank=True, default="")
    health = serializers.DictField(
        help_text="yes/no for each Maritime Declaration of Health question, plus notes"
    )
    crew = PersonInputSerializer(many=True, max_length=limits.MAX_CREW)
    passengers = PersonInputSerializer(many=True, default=list, max_length=limits.MAX_PASSENGERS)
    dangerous_goods = DangerousGoodInputSerializer(
        many=True, default=list, max_length=limits.MAX_DANGEROUS_GOODS
    )


class FilingCreateSerializer(FilingInputSerializer):
    port_call = serializers.IntegerField()
    direction = serializers.ChoiceField(choices=VesselFiling.Direction.choices)


class CallInputSerializer(serializers.Serializer):
    imo_number = serializers.CharField(max_length=10, allow_blank=True)
    vessel_name = serializers.CharField(max_length=100, allow_blank=True)
    call_sign = serializers.CharField(max_length=10, allow_blank=True, default="")
    mmsi = serializers.CharField(max_length=9, allow_blank=True, default="")
    flag = serializers.CharField(max_length=2, allow_blank=True, default="")
    gross_tonnage = serializers.CharField(max_length=7, allow_blank=True, default="")
    net_tonnage = serializers.CharField(max_length=7, allow_blank=True, default="")
    voyage = serializers.CharField(max_length=20, allow_blank=True)
    terminal = serializers.CharField(max_length=10, help_text="terminal code in your port")
    eta = serializers.CharField(max_length=32, help_text="ISO 8601")
    etd = serializers.CharField(max_length=32, allow_blank=True, default="")


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(allow_blank=True, default="")


class BerthInputSerializer(serializers.Serializer):
    berth = serializers.IntegerField(required=False)


class ManifestLineInputSerializer(serializers.Serializer):
    bl_number = serializers.CharField(max_length=35, allow_blank=True)
    container_number = serializers.CharField(max_length=13, allow_blank=True)
    gross_weight_kg = serializers.CharField(max_length=14, allow_blank=True, default="")
    seal_number = serializers.CharField(max_length=20, allow_blank=True, default="")
    description = serializers.CharField(max_length=250, allow_blank=True, default="")
    hs_code = serializers.CharField(max_length=10, allow_blank=True, default="")
    un_number = serializers.CharField(max_length=6, allow_blank=True, default="")
    imdg_class = serializers.CharField(max_length=4, allow_blank=True, default="")
    packing_group = serializers.CharField(max_length=3, allow_blank=True, default="")
    stowage_position = serializers.CharField(max_length=7, allow_blank=True, default="")
    size_type = serializers.CharField(max_length=4, allow_blank=True, default="")


class ManifestInputSerializer(serializers.Serializer):
    lines = ManifestLineInputSerializer(many=True, max_length=limits.MAX_MANIFEST_LINES)


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="UN/EDIFACT text (BAPLIE, COPRAR, COARRI); 5 MB at most",
        validators=[uploads.validate_edifact_file],
    )
    port_call = serializers.IntegerField(required=False)


class ResolutionSerializer(serializers.Serializer):
    note = serializers.CharField(allow_blank=True)


# --- Output ----------------------------------------------------------------------------------


class ReviewSerializer(serializers.ModelSerializer):
    agency = serializers.StringRelatedField()

    class Meta:
        model = AgencyReview
        fields = ["id", "agency", "agency_kind", "status", "comment", "decided_at"]


class PersonSerializer(serializers.ModelSerializer):
    document_number = serializers.CharField(
        source="document_masked", read_only=True, help_text="Masked: only the last two characters"
    )

    class Meta:
        model = FilingPerson
        fields = [
            "role",
            "family_name",
            "given_names",
            "rank",
            "nationality",
            "date_of_birth",
            "document_number",
        ]


class DangerousGoodSerializer(serializers.ModelSerializer):
    class Meta:
        model = FilingDangerousGood
        fields = [
            "container_number",
            "un_number",
            "imdg_class",
            "packing_group",
            "proper_shipping_name",
            "stowage_position",
            "gross_mass_kg",
        ]


class FilingSerializer(serializers.ModelSerializer):
    agent = serializers.StringRelatedField()
    vessel = serializers.CharField(source="port_call.vessel.name")
    reviews = ReviewSerializer(many=True, read_only=True)

    class Meta:
        model = VesselFiling
        fields = [
            "id",
            "port_call",
            "vessel",
            "direction",
            "status",
            "version",
            "agent",
            "submitted_at",
            "cleared_at",
            "reviews",
        ]


class FilingDetailSerializer(FilingSerializer):
    people = PersonSerializer(many=True, read_only=True)
    dangerous_goods = DangerousGoodSerializer(many=True, read_only=True)

    class Meta(FilingSerializer.Meta):
        fields = [
            *FilingSerializer.Meta.fields,
            "master_name",
            "last_port",
            "next_port",
            "crew_count",
            "passenger_count",
            "cargo_description",
            "remarks",
            "health",
            "people",
            "dangerous_goods",
        ]


class PortCallSerializer(serializers.ModelSerializer):
    vessel = serializers.SerializerMethodField()
    terminal = serializers.CharField(source="terminal.name")
    berth = serializers.CharField(source="berth.code", default=None, allow_null=True)
    agent = serializers.StringRelatedField()

    class Meta:
        model = PortCall
        fields = [
            "id",
            "vessel",
            "voyage",
            "status",
            "terminal",
            "berth",
            "eta",
            "etd",
            "ata",
            "atd",
            "agent",
        ]

    def get_vessel(self, call) -> dict:
        vessel = call.vessel
        return {
            "imo_number": vessel.imo_number,
            "name": vessel.name,
            "call_sign": vessel.call_sign,
            "mmsi": vessel.mmsi,
            "flag": vessel.flag,
            "gross_tonnage": vessel.gross_tonnage,
            "net_tonnage": vessel.net_tonnage,
        }


class ManifestEntrySerializer(serializers.ModelSerializer):
    submitted_by = serializers.StringRelatedField()

    class Meta:
        model = ManifestEntry
        fields = [
            "bl_number",
            "container_number",
            "size_type",
            "seal_number",
            "gross_weight_kg",
            "description",
            "hs_code",
            "un_number",
            "imdg_class",
            "packing_group",
            "stowage_position",
            "source",
            "submitted_by",
        ]


class ImportSerializer(serializers.ModelSerializer):
    class Meta:
        model = EdifactImport
        fields = ["id", "file_name", "port_call", "status", "progress", "summary", "created_at"]


class FlagSerializer(serializers.ModelSerializer):
    class Meta:
        model = DangerousGoodsFlag
        fields = [
            "id",
            "port_call",
            "container_number",
            "kind",
            "message",
            "status",
            "resolution_note",
            "created_at",
        ]


# --- Viewsets --------------------------------------------------------------------------------


def _input(request, serializer_class) -> dict:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


def _filing_input(fields: dict) -> filing_input.FilingInput:
    fields = dict(fields)
    return filing_input.FilingInput(
        **{
            **fields,
            "crew": [filing_input.PersonInput(**p) for p in fields["crew"]],
            "passengers": [filing_input.PersonInput(**p) for p in fields["passengers"]],
            "dangerous_goods": [
                filing_input.DangerousGoodInput(**g) for g in fields["dangerous_goods"]
            ],
        }
    )


class FilingFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=VesselFiling.Status.choices)
    direction = filters.ChoiceFilter(choices=VesselFiling.Direction.choices)
    port_call = filters.NumberFilter()

    class Meta:
        model = VesselFiling
        fields = ["status", "direction", "port_call"]


class VesselFilingViewSet(
    IdempotentCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Arrival and departure filings: the agent's own, or those addressed to your agency
    (with your agency's review only)."""

    filterset_class = FilingFilter
    queryset = VesselFiling.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        filings = queries.filing_list(user=self.request.user)
        if self.action == "list":
            return filings
        return filings.prefetch_related("people", "dangerous_goods")

    def get_serializer_class(self):
        return FilingSerializer if self.action == "list" else FilingDetailSerializer

    @extend_schema(
        request=FilingCreateSerializer,
        responses={201: FilingDetailSerializer},
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER)],
    )
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def create_once(self, request):
        fields = dict(_input(request, FilingCreateSerializer))
        port_call_id, direction = fields.pop("port_call"), fields.pop("direction")
        filing = services.filing_submit(
            user=request.user,
            port_call_id=port_call_id,
            direction=direction,
            filing=_filing_input(fields),
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER, "").strip(),
        )
        return self._detail(filing, status.HTTP_201_CREATED)

    @extend_schema(request=FilingInputSerializer, responses=FilingDetailSerializer)
    @action(detail=True, methods=["post"])
    def resubmit(self, request, pk=None):
        fields = _input(request, FilingInputSerializer)
        filing = self.get_object()
        if not queries.is_filing_agent(user=request.user, filing=filing):
            raise DRFPermissionDenied
        services.filing_resubmit(
            user=request.user, filing_id=filing.pk, filing=_filing_input(fields)
        )
        return self._detail(filing)

    @extend_schema(request=CommentSerializer, responses=FilingDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._decide(request, AgencyReview.Status.APPROVED)

    @extend_schema(request=CommentSerializer, responses=FilingDetailSerializer)
    @action(detail=True, methods=["post"], url_path="request-correction")
    def request_correction(self, request, pk=None):
        return self._decide(request, AgencyReview.Status.CORRECTION_REQUESTED)

    @extend_schema(request=CommentSerializer, responses=FilingDetailSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(request, AgencyReview.Status.REJECTED)

    def _decide(self, request, decision: str) -> Response:
        comment = _input(request, CommentSerializer)["comment"]
        filing = self.get_object()
        review = queries.review_for_user(user=request.user, filing=filing)
        if review is None:
            raise DRFPermissionDenied("Your agency does not review this filing.")
        services.review_decide(
            review_id=review.pk, user=request.user, decision=decision, comment=comment
        )
        return self._detail(filing)

    def _detail(self, filing, code=status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=filing.pk)
        return Response(FilingDetailSerializer(fresh).data, status=code)


class PortCallViewSet(
    IdempotentCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Vessel calls in your port: a shipping agent announces them; berthing and departure are
    recorded here by the port authority or the terminal."""

    serializer_class = PortCallSerializer
    queryset = PortCall.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return queries.port_call_list(user=self.request.user)

    @extend_schema(
        request=CallInputSerializer,
        responses={201: PortCallSerializer},
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER)],
    )
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def create_once(self, request):
        fields = _input(request, CallInputSerializer)
        call = services.port_call_announce(user=request.user, call=services.CallInput(**fields))
        fresh = self.get_queryset().get(pk=call.pk)
        return Response(PortCallSerializer(fresh).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=BerthInputSerializer, responses=PortCallSerializer)
    @action(detail=True, methods=["post"])
    def berthed(self, request, pk=None):
        berth = _input(request, BerthInputSerializer).get("berth")
        call = services.port_call_mark_berthed(
            port_call_id=self.get_object().pk, user=request.user, berth_id=berth
        )
        return Response(PortCallSerializer(self.get_queryset().get(pk=call.pk)).data)

    @extend_schema(request=None, responses=PortCallSerializer)
    @action(detail=True, methods=["post"])
    def departed(self, request, pk=None):
        call = services.port_call_mark_departed(
            port_call_id=self.get_object().pk, user=request.user
        )
        return Response(PortCallSerializer(self.get_queryset().get(pk=call.pk)).data)

    @extend_schema(methods=["GET"], responses=ManifestEntrySerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=ManifestInputSerializer,
        responses=ManifestEntrySerializer(many=True),
    )
    @action(detail=True, methods=["get", "post"])
    def manifest(self, request, pk=None):
        call = self.get_object()
        if request.method == "POST":
            lines = _input(request, ManifestInputSerializer)["lines"]
            cargo.manifest_add_lines(
                user=request.user,
                port_call_id=call.pk,
                lines=[cargo.ManifestLineInput(**line) for line in lines],
                source=ManifestEntry.Source.API,
            )
        page = self.paginate_queryset(queries.manifest_for_call(port_call_id=call.pk))
        return self.get_paginated_response(ManifestEntrySerializer(page, many=True).data)

    @extend_schema(responses=BoardingSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def boardings(self, request, pk=None):
        call = self.get_object()
        rows = queries.boardings_for(user=request.user, port_call=call)
        return Response(BoardingSerializer(rows, many=True).data)

    @extend_schema(request=BoardingInputSerializer, responses={201: BoardingSerializer})
    @action(detail=True, methods=["post"], url_path="boardings/book")
    def book_boarding(self, request, pk=None):
        fields = _input(request, BoardingInputSerializer)
        boarding = boardings.boarding_book(
            user=request.user, port_call_id=self.get_object().pk, **fields
        )
        return Response(BoardingSerializer(boarding).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=BoardingRequestInputSerializer, responses={201: BoardingSerializer})
    @action(detail=True, methods=["post"], url_path="boardings/request")
    def request_boarding(self, request, pk=None):
        """The call's shipping agent asks an agency to board; the agency confirms."""
        fields = _input(request, BoardingRequestInputSerializer)
        boarding = boardings.boarding_request(
            user=request.user,
            port_call_id=self.get_object().pk,
            agency_id=fields["agency"],
            scheduled_at=fields["scheduled_at"],
            purpose=fields["purpose"],
        )
        return Response(BoardingSerializer(boarding).data, status=status.HTTP_201_CREATED)


class EdifactImportViewSet(
    IdempotentCreateMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Upload a UN/EDIFACT BAPLIE, COPRAR or COARRI file; Celery imports it. Poll the import
    (or watch `shipping.import_progress` on /ws/live/) for its status, progress and summary.

    A shipping agent's file goes to its manifest. A terminal operator uploads a COARRI
    discharge report for a berthed call at its terminal: the containers of its discharge
    messages (BGM 44 or 119) are reported discharged, and the summary's `discharge` says
    how many were recorded, how many already were and which are not on the call's list."""

    serializer_class = ImportSerializer
    parser_classes = [MultiPartParser, FormParser]
    queryset = EdifactImport.objects.none()

    def get_object(self):
        return queries.import_get_for_user(user=self.request.user, import_id=self.kwargs["pk"])

    @extend_schema(request=UploadSerializer, responses={202: ImportSerializer})
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def create_once(self, request):
        fields = _input(request, UploadSerializer)
        upload = edifact_imports.edifact_import_create(
            user=request.user,
            file_name=fields["file"].name,
            content=fields["file"].read(),
            port_call_id=fields.get("port_call"),
        )
        return Response(ImportSerializer(upload).data, status=status.HTTP_202_ACCEPTED)


class FlagViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The maritime officers' queue of dangerous-goods findings (open, oldest first)."""

    serializer_class = FlagSerializer
    queryset = DangerousGoodsFlag.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return queries.dg_flag_queue(user=self.request.user)

    @extend_schema(request=ResolutionSerializer, responses=FlagSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        note = _input(request, ResolutionSerializer)["note"]
        if not self.get_queryset().filter(pk=pk).exists():
            raise Http404
        flag = cargo.dg_flag_resolve(flag_id=int(pk), user=request.user, note=note)
        return Response(FlagSerializer(flag).data)
