from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import cache, dashboard, plan
from analytics.queries import scope_or_404
from port import limits


class DashboardQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=["day", "week"], default="day")
    on = serializers.DateField(
        required=False,
        validators=[limits.validate_day],
        help_text="A day of the period; today when absent",
    )
    terminal = serializers.IntegerField(required=False, min_value=1, help_text="Terminal id")
    direction = serializers.ChoiceField(choices=["import", "export"], required=False)


class DashboardView(APIView):
    """The dashboard's tables (figures, clearance times, trade), read from the rollups, or
    from the cache until the consumer folds new events into this dashboard.

    A port authority, customs office or terminal operator sees the whole port; an
    enterprise sees the same tables for its own consignments only.
    """

    @extend_schema(parameters=[DashboardQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        scope = scope_or_404(request.user)
        query = DashboardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        filters = dashboard.Filters(
            period=data["period"],
            on=data.get("on"),
            terminal_id=data.get("terminal"),
            direction=data.get("direction", ""),
        )
        return Response(
            {
                "scope": {
                    "port_wide": scope.port_wide,
                    "organisations": list(scope.organisation_ids),
                },
                "period": data["period"],
                "tables": cache.dashboard_tables(scope, filters),
            }
        )


class PortMapView(APIView):
    """The one map: terminals, berths with the vessels at them, yard blocks, inspection
    areas and the containers on them, laid out in plan units."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(plan.port_plan(scope_or_404(request.user)))
