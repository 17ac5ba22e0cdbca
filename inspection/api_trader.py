"""The enterprise's inspection tickets and its requests not to attend; the access stage
(两段准入) of quarantine and permits. Views call services and queries only."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from inspection import access, attendance, bookings, queries
from inspection.models import AccessCheck, AttendanceRequest, Inspection, InspectionBooking


class AttendanceRequestSerializer(serializers.ModelSerializer):
    ticket = serializers.CharField(source="inspection.ticket")
    container = serializers.CharField(source="inspection.decision.container.number")
    declaration = serializers.IntegerField(source="inspection.decision.declaration_id")
    requested_by = serializers.CharField(source="requested_by.username")
    decided_by = serializers.CharField(source="decided_by.username", default=None)

    class Meta:
        model = AttendanceRequest
        fields = [
            "id",
            "inspection",
            "ticket",
            "container",
            "declaration",
            "reason",
            "status",
            "requested_by",
            "created_at",
            "decided_by",
            "decided_at",
            "decision_note",
        ]


class BookingSerializer(serializers.ModelSerializer):
    ticket = serializers.CharField(source="inspection.ticket")
    container = serializers.CharField(source="inspection.decision.container.number")
    area = serializers.CharField(source="area.code")
    booked_by = serializers.CharField(source="booked_by.username")
    confirmed_by = serializers.CharField(source="confirmed_by.username", default=None)

    class Meta:
        model = InspectionBooking
        fields = [
            "id",
            "inspection",
            "ticket",
            "container",
            "area",
            "slot_start",
            "status",
            "booked_by",
            "confirmed_by",
            "created_at",
        ]


class SlotSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    left = serializers.IntegerField()


class BookingInputSerializer(serializers.Serializer):
    slot_start = serializers.DateTimeField(
        help_text="One of the slots `GET …/enterprise-tickets/{id}/slots/` offers"
    )


class BookingConfirmSerializer(serializers.Serializer):
    slot_start = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Move the booking to this open slot"
    )


class EnterpriseTicketSerializer(serializers.ModelSerializer):
    container = serializers.CharField(source="decision.container.number")
    declaration = serializers.IntegerField(source="decision.declaration_id")
    outcome = serializers.CharField(source="decision.outcome")
    area = serializers.CharField(source="area.code")
    area_name = serializers.CharField(source="area.name")
    area_opens_at = serializers.TimeField(source="area.opens_at")
    area_closes_at = serializers.TimeField(source="area.closes_at")
    reached_area_at = serializers.DateTimeField(source="created_at")
    queue_place = serializers.SerializerMethodField()
    attendance_request = serializers.SerializerMethodField()
    booking = serializers.SerializerMethodField()

    class Meta:
        model = Inspection
        fields = [
            "id",
            "ticket",
            "queue_date",
            "queue_number",
            "queue_place",
            "status",
            "container",
            "declaration",
            "outcome",
            "area",
            "area_name",
            "area_opens_at",
            "area_closes_at",
            "reached_area_at",
            "called_at",
            "started_at",
            "finished_at",
            "attendance_request",
            "booking",
        ]

    def get_booking(self, ticket) -> dict | None:
        booking = queries.booking_of(ticket)
        if booking is None:
            return None
        return {"id": booking.pk, "slot_start": booking.slot_start, "status": booking.status}

    def get_queue_place(self, ticket) -> int | None:
        return queries.queue_place(ticket)

    def get_attendance_request(self, ticket) -> dict | None:
        request = queries.attendance_request_of(ticket)
        if request is None:
            return None
        return {
            "id": request.pk,
            "status": request.status,
            "reason": request.reason,
            "decision_note": request.decision_note,
        }


class AttendanceInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, allow_blank=True, default="")


class AttendanceDecisionSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    note = serializers.CharField(max_length=300, allow_blank=True, default="")


DECLARATION_PARAMETER = OpenApiParameter("declaration", int, description="A declaration's id")


class EnterpriseTicketViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The enterprise's (and its broker's) own inspection tickets: call number, place in the
    queue, when the container reached the area, the area's hours; ask not to attend."""

    serializer_class = EnterpriseTicketSerializer
    queryset = Inspection.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        declaration = self.request.query_params.get("declaration")
        return queries.trader_tickets(
            user=self.request.user,
            declaration_id=int(declaration) if (declaration or "").isdigit() else None,
        )

    @extend_schema(parameters=[DECLARATION_PARAMETER])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=AttendanceInputSerializer, responses={201: AttendanceRequestSerializer})
    @action(detail=True, methods=["post"])
    def attendance(self, request, pk=None):
        data = _valid(AttendanceInputSerializer, request)
        made = attendance.attendance_request(
            inspection_id=self.get_object().pk, user=request.user, reason=data["reason"]
        )
        return Response(AttendanceRequestSerializer(made).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: SlotSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def slots(self, request, pk=None):
        """The times of the next days the ticket's area still has a place in."""
        ticket = self.get_object()
        return Response(SlotSerializer(queries.slots_open(area=ticket.area), many=True).data)

    @extend_schema(request=BookingInputSerializer, responses={201: BookingSerializer})
    @action(detail=True, methods=["post"])
    def booking(self, request, pk=None):
        """Book (or book again) a time for the inspection of this ticket."""
        data = _valid(BookingInputSerializer, request)
        made = bookings.booking_make(
            inspection_id=self.get_object().pk, user=request.user, slot_start=data["slot_start"]
        )
        return Response(BookingSerializer(made).data, status=status.HTTP_201_CREATED)


class BookingViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Booked inspection times at the officer's areas; the officer confirms or moves each."""

    serializer_class = BookingSerializer
    queryset = InspectionBooking.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return queries.bookings_for_officer(user=self.request.user)

    @extend_schema(request=BookingConfirmSerializer, responses={200: BookingSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        data = _valid(BookingConfirmSerializer, request)
        confirmed = bookings.booking_confirm(
            booking_id=self.get_object().pk,
            officer=request.user,
            slot_start=data.get("slot_start"),
        )
        return Response(BookingSerializer(confirmed).data)


class AttendanceRequestViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Requests not to attend: officers see their areas', traders their own; officers decide."""

    serializer_class = AttendanceRequestSerializer
    queryset = AttendanceRequest.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        wanted = self.request.query_params.get("status", "")
        return queries.attendance_requests_for(
            user=self.request.user,
            status=wanted if wanted in AttendanceRequest.Status.values else "",
        )

    @extend_schema(
        request=AttendanceDecisionSerializer, responses={200: AttendanceRequestSerializer}
    )
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        data = _valid(AttendanceDecisionSerializer, request)
        decided = attendance.attendance_decide(
            request_id=self.get_object().pk, officer=request.user, **data
        )
        return Response(AttendanceRequestSerializer(decided).data)


class AccessCheckSerializer(serializers.ModelSerializer):
    declaration_number = serializers.CharField(source="declaration.number", default=None)
    enterprise = serializers.CharField(source="declaration.enterprise.name")
    decided_by = serializers.CharField(source="decided_by.username", default=None)

    class Meta:
        model = AccessCheck
        fields = [
            "id",
            "declaration",
            "declaration_number",
            "enterprise",
            "kind",
            "status",
            "created_at",
            "decided_by",
            "decided_at",
            "note",
        ]


class AccessDecisionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[AccessCheck.Status.RELEASED, AccessCheck.Status.REFUSED]
    )
    note = serializers.CharField(max_length=300, allow_blank=True, default="")


class AccessCheckViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The access stage (两段准入): goods involving quarantine or permits are held here until
    its owner releases them, even after customs released the declaration."""

    serializer_class = AccessCheckSerializer
    queryset = AccessCheck.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        wanted = self.request.query_params.get("status", "")
        return queries.access_checks_for(
            user=self.request.user,
            status=wanted if wanted in AccessCheck.Status.values else "",
        )

    @extend_schema(request=AccessDecisionSerializer, responses={200: AccessCheckSerializer})
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        data = _valid(AccessDecisionSerializer, request)
        check = access.access_check_decide(
            check_id=self.get_object().pk, officer=request.user, **data
        )
        return Response(AccessCheckSerializer(check).data)


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
