"""Alarms for the officers of the office each belongs to: the board's list (filters: status,
severity, kind, assigned=me, q), and one POST per step of an alarm's life."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from alarms import queries, services
from alarms.models import Alarm

FILTERS = [OpenApiParameter(name, str) for name in ("status", "severity", "kind", "assigned", "q")]


class AlarmSerializer(serializers.ModelSerializer):
    assigned_to = serializers.CharField(source="assigned_to.username", default=None)
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", default=None)
    closed_by = serializers.CharField(source="closed_by.username", default=None)

    class Meta:
        model = Alarm
        fields = [
            "id",
            "kind",
            "severity",
            "status",
            "subject",
            "message",
            "data",
            "assigned_to",
            "acknowledged_by",
            "acknowledged_at",
            "closed_by",
            "closed_at",
            "outcome",
            "created_at",
        ]


class AlarmAssignSerializer(serializers.Serializer):
    assignee = serializers.IntegerField(help_text="User id of an officer of the alarm's office")


class AlarmHandOverSerializer(serializers.Serializer):
    office = serializers.IntegerField(help_text="Id of the customs office that takes it over")
    note = serializers.CharField(max_length=2000, help_text="Why it goes there")


class AlarmNoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000)


class AlarmCloseSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Alarm.Outcome.choices)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class AlarmViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AlarmSerializer
    queryset = Alarm.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return queries.alarm_list(user=self.request.user, filters=self.request.query_params)

    @extend_schema(parameters=FILTERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: AlarmSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        return self._done(services.alarm_acknowledge(alarm_id=self._id(pk), officer=request.user))

    @extend_schema(request=AlarmAssignSerializer, responses={200: AlarmSerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        data = _valid(AlarmAssignSerializer, request)
        return self._done(
            services.alarm_assign(
                alarm_id=self._id(pk), officer=request.user, assignee_id=data["assignee"]
            )
        )

    @extend_schema(request=AlarmHandOverSerializer, responses={200: AlarmSerializer})
    @action(detail=True, methods=["post"], url_path="hand-over")
    def hand_over(self, request, pk=None):
        data = _valid(AlarmHandOverSerializer, request)
        handed = services.alarm_hand_over(
            alarm_id=self._id(pk), officer=request.user, office_id=data["office"], note=data["note"]
        )
        return Response(AlarmSerializer(handed).data)

    @extend_schema(request=AlarmNoteSerializer, responses={200: AlarmSerializer})
    @action(detail=True, methods=["post"])
    def annotate(self, request, pk=None):
        data = _valid(AlarmNoteSerializer, request)
        return self._done(
            services.alarm_annotate(alarm_id=self._id(pk), officer=request.user, note=data["note"])
        )

    @extend_schema(request=AlarmCloseSerializer, responses={200: AlarmSerializer})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        data = _valid(AlarmCloseSerializer, request)
        return self._done(services.alarm_close(alarm_id=self._id(pk), officer=request.user, **data))

    def _id(self, pk) -> int:
        return queries.alarm_get_for_user(user=self.request.user, alarm_id=int(pk)).pk

    def _done(self, alarm: Alarm) -> Response:
        alarm = queries.alarm_get_for_user(user=self.request.user, alarm_id=alarm.pk)
        return Response(AlarmSerializer(alarm).data)


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
