from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from declarations import queries, services
from declarations.models import Declaration, DeclarationItem
from port.api import IDEMPOTENCY_HEADER, IdempotentCreateMixin


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
    value = serializers.CharField(max_length=20, allow_blank=True, help_text="CNY, a decimal")
    origin_country = serializers.CharField(
        max_length=2, allow_blank=True, help_text="ISO 3166 alpha-2"
    )


class DeclarationCreateSerializer(serializers.Serializer):
    enterprise = serializers.IntegerField(
        required=False, help_text="Whose goods; defaults to your own enterprise"
    )
    direction = serializers.CharField(default="import", help_text="import or export")
    port_call = serializers.IntegerField(help_text="Port call id (vessel and voyage)")
    bl_number = serializers.CharField(max_length=35, allow_blank=True)
    containers = serializers.ListField(
        child=serializers.CharField(max_length=20), help_text="ISO 6346 numbers"
    )
    items = ItemInputSerializer(many=True)


class ItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeclarationItem
        fields = [
            "line_number",
            "hs_code",
            "description",
            "quantity",
            "unit",
            "value",
            "origin_country",
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


class DeclarationFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Declaration.Status.choices)
    bl_number = filters.CharFilter(lookup_expr="iexact")
    container = filters.CharFilter(field_name="containers__number", lookup_expr="iexact")
    filed_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    filed_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Declaration
        fields = ["status", "direction", "bl_number", "container"]


class DeclarationViewSet(
    IdempotentCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Customs declarations of your organisation. Filing submits at once for assessment."""

    filterset_class = DeclarationFilter
    queryset = Declaration.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        declarations = queries.declaration_list(user=self.request.user)
        if self.action == "retrieve":
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
        data = DeclarationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        declaration = services.declaration_file(
            user=request.user,
            enterprise_id=fields.get("enterprise"),
            port_call_id=fields["port_call"],
            bl_number=fields["bl_number"],
            container_numbers=fields["containers"],
            items=[services.ItemInput(**item) for item in fields["items"]],
            direction=fields["direction"],
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER, "").strip(),
        )
        declaration = self.get_queryset().prefetch_related("items").get(pk=declaration.pk)
        body = DeclarationDetailSerializer(declaration).data
        return Response(body, status=status.HTTP_201_CREATED)
