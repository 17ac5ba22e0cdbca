"""The boarding appointments API: the agent's or the agency's boardings, the agency's
confirm / complete / release and either side's cancel, and the booking → boarding → release
times. Booking and requesting a boarding are actions on the port call (api.PortCallViewSet).
Views call services and queries only."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from shipping import boardings, queries
from shipping.models import BoardingAppointment

# --- Input -----------------------------------------------------------------------------------


class BoardingInputSerializer(serializers.Serializer):
    scheduled_at = serializers.CharField(help_text="ISO 8601 date and time")
    purpose = serializers.CharField(max_length=200, allow_blank=True)


class BoardingRequestInputSerializer(BoardingInputSerializer):
    agency = serializers.IntegerField(help_text="The boarding agency's organisation id")


# --- Output ----------------------------------------------------------------------------------


class BoardingSerializer(serializers.ModelSerializer):
    agency = serializers.StringRelatedField()
    requested_by = serializers.SerializerMethodField(
        help_text="Who requested it: shipping_agent, enterprise, or null (the agency booked it)"
    )
    booking_to_release_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = BoardingAppointment
        fields = [
            "id",
            "port_call",
            "agency",
            "requested_by",
            "scheduled_at",
            "purpose",
            "status",
            "created_at",
            "confirmed_at",
            "completed_at",
            "released_at",
            "booking_to_release_seconds",
        ]

    def get_requested_by(self, boarding) -> str | None:
        return boarding.requested_by.kind if boarding.requested_by_id else None


class BoardingTimesSideSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    booking_to_boarding_minutes = serializers.FloatField(allow_null=True)
    booking_to_release_minutes = serializers.FloatField(allow_null=True)


class BoardingTimesSerializer(serializers.Serializer):
    agent = BoardingTimesSideSerializer(help_text="Requested by the shipping agent")
    enterprise = BoardingTimesSideSerializer(help_text="Requested by an enterprise on the call")
    agency = BoardingTimesSideSerializer(help_text="Booked by the agency itself")


# --- Viewsets --------------------------------------------------------------------------------


class BoardingViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Boarding appointments (登临): those of the agent's calls, or the agency's own. The
    agency confirms what the agent requested, marks it boarded, then releases the vessel;
    either cancels one not yet made. `times` gives booking → boarding → release medians."""

    serializer_class = BoardingSerializer
    queryset = BoardingAppointment.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return queries.boarding_list(user=self.request.user)

    @extend_schema(request=None, responses=BoardingTimesSerializer)
    @action(detail=False, methods=["get"])
    def times(self, request):
        return Response(BoardingTimesSerializer(queries.boarding_times(user=request.user)).data)

    @extend_schema(request=None, responses=BoardingSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        boarding = boardings.boarding_confirm(boarding_id=self._own(pk), user=request.user)
        return Response(BoardingSerializer(boarding).data)

    @extend_schema(request=None, responses=BoardingSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        boarding = boardings.boarding_complete(boarding_id=self._own(pk), user=request.user)
        return Response(BoardingSerializer(boarding).data)

    @extend_schema(request=None, responses=BoardingSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        boarding = boardings.boarding_release(boarding_id=self._own(pk), user=request.user)
        return Response(BoardingSerializer(boarding).data)

    @extend_schema(request=None, responses=BoardingSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        boarding = boardings.boarding_cancel(boarding_id=self._own(pk), user=request.user)
        return Response(BoardingSerializer(boarding).data)

    def _own(self, pk) -> int:
        return queries.boarding_get_for_user(user=self.request.user, boarding_id=pk).pk
