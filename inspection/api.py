from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from inspection import diversion, gate, queries, services
from inspection.models import GateEvent, Inspection
from port import limits, uploads
from port.api import IDEMPOTENCY_HEADER, IdempotentCreateMixin

IDEMPOTENCY_PARAMETER = OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER)


class TicketSerializer(serializers.ModelSerializer):
    container = serializers.CharField(source="decision.container.number")
    declaration = serializers.CharField(source="decision.declaration.number")
    outcome = serializers.CharField(source="decision.outcome")
    area = serializers.CharField(source="area.code")
    officer = serializers.CharField(source="officer.username", default=None)

    class Meta:
        model = Inspection
        fields = [
            "id",
            "ticket",
            "queue_date",
            "queue_number",
            "area",
            "container",
            "declaration",
            "outcome",
            "status",
            "officer",
            "called_at",
            "started_at",
            "finished_at",
            "result",
            "image_verdict",
        ]


class ArrivalSerializer(serializers.Serializer):
    container = serializers.CharField(
        max_length=20, help_text="ISO 6346 number of a selected container"
    )


class CallNextSerializer(serializers.Serializer):
    area = serializers.IntegerField(help_text="Inspection area id")


class RecordSerializer(serializers.Serializer):
    result = serializers.CharField(allow_blank=True, required=False, default="")
    findings = serializers.CharField(allow_blank=True, required=False, default="")
    image_verdict = serializers.CharField(allow_blank=True, required=False, default="")
    scan_image = serializers.FileField(
        required=False,
        allow_null=True,
        default=None,
        validators=[uploads.image_validator("scan")],
        help_text="JPEG, PNG, TIFF or WebP, checked by its content; 20 MB at most",
    )


class FinishSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="released, held, seized or returned")
    note = serializers.CharField(allow_blank=True, required=False, default="")


class TicketFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Inspection.Status.choices)
    area = filters.CharFilter(field_name="area__code")

    class Meta:
        model = Inspection
        fields = ["status", "area"]


class TicketViewSet(
    IdempotentCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Inspection tickets: the officers' board and the terminal's hoisting list.

    A terminal reports a selected container at the inspection area (create) and gets its
    ticket at once; officers call the next ticket and record the inspection.
    """

    serializer_class = TicketSerializer
    filterset_class = TicketFilter
    queryset = Inspection.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return queries.tickets_for(user=self.request.user)

    @extend_schema(
        request=ArrivalSerializer,
        responses={201: TicketSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def create_once(self, request):
        data = _valid(ArrivalSerializer, request)
        ticket = services.inspection_report_arrival(
            user=request.user, container_number=data["container"]
        )
        return Response(TicketSerializer(ticket).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CallNextSerializer, responses={200: TicketSerializer, 204: None})
    @action(detail=False, methods=["post"], url_path="call-next")
    def call_next(self, request):
        data = _valid(CallNextSerializer, request)
        ticket = services.inspection_call_next(area_id=data["area"], officer=request.user)
        if ticket is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(TicketSerializer(ticket).data)

    @extend_schema(request=None, responses={200: TicketSerializer})
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        ticket = services.inspection_start(inspection_id=self.get_object().pk, officer=request.user)
        return Response(TicketSerializer(ticket).data)

    @extend_schema(request=RecordSerializer, responses={200: TicketSerializer})
    @action(detail=True, methods=["post"])
    def record(self, request, pk=None):
        data = _valid(RecordSerializer, request)
        ticket = services.inspection_record(
            inspection_id=self.get_object().pk, officer=request.user, **data
        )
        return Response(TicketSerializer(ticket).data)

    @extend_schema(request=FinishSerializer, responses={200: TicketSerializer})
    @action(detail=True, methods=["post"])
    def finish(self, request, pk=None):
        data = _valid(FinishSerializer, request)
        ticket = services.inspection_finish(
            inspection_id=self.get_object().pk, officer=request.user, **data
        )
        return Response(TicketSerializer(ticket).data)


class GateEventSerializer(serializers.ModelSerializer):
    container = serializers.CharField(source="container.number")
    terminal = serializers.CharField(source="terminal.code")

    class Meta:
        model = GateEvent
        fields = [
            "id",
            "container",
            "terminal",
            "direction",
            "truck_plate",
            "allowed",
            "reason",
            "created_at",
        ]


class GateReportSerializer(serializers.Serializer):
    container = serializers.CharField(max_length=20, allow_blank=True)
    direction = serializers.CharField(max_length=20, help_text="in or out")
    truck_plate = serializers.CharField(max_length=16, allow_blank=True, required=False, default="")


class GateEventViewSet(IdempotentCreateMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Gate events of your terminal. A gate-out of a container customs has not released is
    refused (allowed false, with the reason) and raises an alert to customs."""

    serializer_class = GateEventSerializer
    queryset = GateEvent.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return queries.gate_events_for(user=self.request.user)

    @extend_schema(
        request=GateReportSerializer,
        responses={201: GateEventSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def create_once(self, request):
        data = _valid(GateReportSerializer, request)
        event = gate.gate_report(
            user=request.user,
            container_number=data["container"],
            direction=data["direction"],
            truck_plate=data["truck_plate"],
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER, "").strip(),
        )
        return Response(GateEventSerializer(event).data, status=status.HTTP_201_CREATED)


class ReassessSerializer(serializers.Serializer):
    port_call = serializers.IntegerField(help_text="The vessel call's id")


class ReassessmentSerializer(serializers.Serializer):
    port_call = serializers.IntegerField()
    declarations = serializers.IntegerField(help_text="Open declarations the task will assess")
    rule_set_version = serializers.IntegerField(allow_null=True)


class ReassessmentViewSet(viewsets.ViewSet):
    """Re-assess a vessel call: its open declarations are decided again by the current
    rule-set version, in one background task (202). Customs officers of the call's port
    only; a decision overridden, released or at the inspection area stays as it is."""

    @extend_schema(request=ReassessSerializer, responses={202: ReassessmentSerializer})
    def create(self, request):
        data = _valid(ReassessSerializer, request)
        queued = services.port_call_reassess(port_call_id=data["port_call"], officer=request.user)
        return Response(ReassessmentSerializer(queued).data, status=status.HTTP_202_ACCEPTED)


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class InstructionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sequence = serializers.IntegerField()
    container = serializers.CharField(source="container.number")
    port_call = serializers.IntegerField(source="port_call_id")
    destination = serializers.CharField()
    reason = serializers.CharField()
    acknowledged = serializers.BooleanField(source="is_acknowledged")
    discharged_at = serializers.DateTimeField(allow_null=True)


@extend_schema_serializer(many=False)  # the list action answers one object, not an array
class FeedSerializer(serializers.Serializer):
    results = InstructionSerializer(many=True)
    next_cursor = serializers.IntegerField()


class AcknowledgementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sequence = serializers.IntegerField()


class AcknowledgeSerializer(serializers.Serializer):
    instructions = AcknowledgementSerializer(
        many=True, allow_empty=False, max_length=limits.MAX_LIST
    )


class DischargeSerializer(serializers.Serializer):
    port_call = serializers.IntegerField()
    containers = serializers.ListField(
        child=serializers.CharField(max_length=11), allow_empty=False, max_length=5000
    )
    discharged_at = serializers.DateTimeField(
        required=False,
        validators=[limits.validate_moment],
        help_text="When they came off the ship; now if left out",
    )


class DischargeResultSerializer(serializers.Serializer):
    discharged = serializers.IntegerField(help_text="Newly recorded")
    already = serializers.IntegerField(help_text="Reported before, not counted again")


class DiversionViewSet(viewsets.ViewSet):
    """The terminal's feed of diversion instructions: poll with the last sequence you saw
    (`after`), apply each instruction, then acknowledge it with its id and sequence. A
    changed instruction comes again with a higher sequence."""

    @extend_schema(
        parameters=[
            OpenApiParameter("after", int, description="The last sequence you received; 0 at first")
        ],
        responses={200: FeedSerializer},
    )
    def list(self, request):
        try:
            after = int(request.query_params.get("after", 0))
        except ValueError:
            raise serializers.ValidationError({"after": ["A whole number."]}) from None
        instructions = diversion.instruction_feed(user=request.user, after=after)
        next_cursor = instructions[-1].sequence if instructions else after
        return Response(
            {
                "results": InstructionSerializer(instructions, many=True).data,
                "next_cursor": next_cursor,
            }
        )

    @extend_schema(request=AcknowledgeSerializer, responses={200: None})
    @action(detail=False, methods=["post"])
    def acknowledge(self, request):
        data = _valid(AcknowledgeSerializer, request)
        count = diversion.instructions_acknowledge(
            user=request.user, acknowledgements=data["instructions"]
        )
        return Response({"acknowledged": count})

    @extend_schema(request=DischargeSerializer, responses={200: DischargeResultSerializer})
    @action(detail=False, methods=["post"])
    def discharged(self, request):
        """Report containers lifted off a berthed vessel of your terminal. Safe to repeat."""
        data = _valid(DischargeSerializer, request)
        result = diversion.containers_report_discharged(
            user=request.user,
            port_call_id=data["port_call"],
            container_numbers=data["containers"],
            at=data.get("discharged_at"),
        )
        return Response(DischargeResultSerializer(result).data)


class WebhookSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=200)


class WebhookSecretSerializer(serializers.Serializer):
    url = serializers.CharField()
    secret = serializers.CharField(
        help_text="Verify X-Portwise-Signature: HMAC-SHA256 of 'timestamp.body'"
    )


class WebhookViewSet(viewsets.ViewSet):
    """Where your terminal receives diversion instructions. Setting it issues a new secret."""

    @extend_schema(request=WebhookSerializer, responses={200: WebhookSecretSerializer})
    def create(self, request):
        data = _valid(WebhookSerializer, request)
        endpoint = diversion.webhook_endpoint_set(user=request.user, url=data["url"])
        return Response({"url": endpoint.url, "secret": endpoint.secret})
