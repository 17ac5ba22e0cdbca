"""The e-commerce API: batches of documents in, lists and decisions out, the sorting line.

Batch endpoints take up to `intake.MAX_BATCH` items (`{"<kind>s": [...]}`); the answer names
every bad item by index and field, and files the good ones (201), or files nothing when
none is good (400). An `Idempotency-Key` makes a repeat return the first answer.
"""

from datetime import date

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from ecommerce import intake, queries, services, tax_months
from ecommerce import summaries as summaries_service
from ecommerce.models import InventoryList
from ecommerce.parsers import OrjsonBatchParser

MAX_BODY_BYTES = 16 * 1024 * 1024


class ListSerializer(serializers.ModelSerializer):
    vat = serializers.SerializerMethodField()
    consumption_tax = serializers.SerializerMethodField()

    class Meta:
        model = InventoryList
        fields = [
            "id",
            "list_no",
            "order_no",
            "waybill_no",
            "trade_mode",
            "status",
            "reason",
            "reason_field",
            "buyer_name_masked",
            "buyer_id_masked",
            "goods_cents",
            "freight_cents",
            "vat",
            "consumption_tax",
            "destination",
            "export_reference",
            "created_at",
            "decided_at",
        ]

    def get_vat(self, obj) -> str:
        return f"{obj.vat_cents / 100:.2f}"

    def get_consumption_tax(self, obj) -> str:
        return f"{obj.consumption_cents / 100:.2f}"


class BatchResultSerializer(serializers.Serializer):
    batch = serializers.IntegerField(allow_null=True)
    submitted = serializers.IntegerField()
    filed = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField())


def _batch_view(kind: str):
    role = intake.KINDS[kind][0]

    @extend_schema(
        request=None, responses={201: BatchResultSerializer}, operation_id=f"ecommerce_{kind}_batch"
    )
    @api_view(["POST"])
    @parser_classes([OrjsonBatchParser])
    def view(request):
        if int(request.headers.get("Content-Length") or 0) > MAX_BODY_BYTES:
            raise ValidationError({f"{kind}s": ["The request is too large."]})
        organisation_id = queries.filer_for(request.user, role)
        if organisation_id is None:
            raise PermissionDenied(f"Only a {role} files {kind}s.")
        items = request.data.get(f"{kind}s") if isinstance(request.data, dict) else None
        try:
            result = intake.batch_file(
                kind=kind,
                organisation_id=organisation_id,
                items=items,
                idempotency_key=request.headers.get("Idempotency-Key", "").strip()[:100],
            )
        except intake.BatchRefused as refused:
            return Response(
                {
                    "batch": None,
                    "submitted": len(items) if isinstance(items, list) else 0,
                    "filed": 0,
                    "errors": refused.errors,
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
        return Response(result.as_dict(), status=status.HTTP_201_CREATED, headers=headers)

    view.__name__ = f"{kind}_batch"
    return view


order_batch = _batch_view("order")
payment_batch = _batch_view("payment")
waybill_batch = _batch_view("waybill")
list_batch = _batch_view("list")


class ListPage(CursorPagination):
    ordering = "-id"
    page_size = 50


class ListPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ListSerializer(many=True)


@extend_schema(operation_id="v1_ecommerce_lists_list", responses=ListPageSerializer)
@api_view(["GET"])
def list_index(request):
    lists = queries.list_list(user=request.user, filters=request.query_params)
    paginator = ListPage()
    page = paginator.paginate_queryset(lists, request)
    return paginator.get_paginated_response(ListSerializer(page, many=True).data)


@extend_schema(responses=ListSerializer)
@api_view(["GET"])
def list_detail(request, pk: int):
    return Response(ListSerializer(queries.list_get_for_user(user=request.user, list_id=pk)).data)


class InspectSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["released", "held", "sent_back"])
    note = serializers.CharField(max_length=200, required=False, default="")


@extend_schema(request=InspectSerializer, responses=ListSerializer)
@api_view(["POST"])
def list_inspect(request, pk: int):
    data = InspectSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    done = services.list_inspect(list_id=pk, officer=request.user, **data.validated_data)
    return Response(ListSerializer(done).data)


@extend_schema(request=None, responses=ListSerializer)
@api_view(["POST"])
def list_return(request, pk: int):
    return Response(ListSerializer(services.list_return(list_id=pk, user=request.user)).data)


@extend_schema(request=None, responses={200: dict})
@api_view(["GET", "POST"])
def sorting(request, waybill_no: str):
    """GET asks what to do with a parcel; POST also records the scan."""
    if not queries.may_scan(request.user):
        raise Http404
    if len(waybill_no) > 40:
        raise ValidationError({"waybill_no": ["At most 40 characters."]})
    if request.method == "POST":
        instruction = services.sorting_scan(waybill_no=waybill_no)
    else:
        instruction = queries.sorting_instruction(waybill_no)
    return Response({"waybill_no": waybill_no, "instruction": instruction})


@extend_schema(responses={200: dict})
@api_view(["GET"])
def board(request):
    if queries.board_live_group(request.user, "") is None:
        raise Http404
    return Response(queries.board())


def _month(params) -> tuple[int, int]:
    try:
        year, month = (int(p) for p in params.get("month", "").split("-"))
        if not (2000 <= year <= 2100 and 1 <= month <= 12):
            raise ValueError
    except ValueError:
        raise ValidationError({"month": ["YYYY-MM."]}) from None
    return year, month


@extend_schema(responses={200: dict})
@api_view(["GET"])
def export_summary(request):
    """?month=YYYY-MM: the declaring enterprise's export lists of the month, summed."""
    declarant = queries.filer_for(request.user, "declarant")
    if declarant is None:
        raise Http404
    year, month = _month(request.query_params)
    rows = queries.export_summary(declarant_id=declarant, year=year, month=month)
    return Response({"month": f"{year:04d}-{month:02d}", "lines": rows})


class SummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    month = serializers.SerializerMethodField()
    enterprise = serializers.IntegerField(source="enterprise_id")
    trade_mode = serializers.CharField()
    destination = serializers.CharField()
    lists = serializers.IntegerField()
    value = serializers.SerializerMethodField()
    references = serializers.ListField(child=serializers.CharField())
    declaration = serializers.IntegerField(source="declaration_id")
    declaration_number = serializers.CharField(source="declaration.number")

    def get_month(self, obj) -> str:
        return f"{obj.month:%Y-%m}"

    def get_value(self, obj) -> str:
        return f"{obj.value_cents / 100:.2f}"


class SummariseSerializer(serializers.Serializer):
    month = serializers.RegexField(r"^\d{4}-\d{2}$")
    enterprise = serializers.IntegerField(required=False, allow_null=True, default=None)


@extend_schema(request=SummariseSerializer, responses=SummarySerializer(many=True))
@api_view(["GET", "POST"])
def summaries(request):
    """GET ?month=YYYY-MM: the monthly summaries of export lists the user may see. POST
    {"month": "YYYY-MM"[, "enterprise": id]}: summarise that past month (customs: every
    enterprise, or one; an e-commerce enterprise: its own); a month is summarised once, so
    a repeat answers 200 with no new summary."""
    if not queries.may_summarise(request.user):
        raise Http404
    if request.method == "GET":
        month = None
        if request.query_params.get("month"):
            year, number = _month(request.query_params)
            month = date(year, number, 1)
        rows = queries.summary_list(user=request.user, month=month)[:500]
        return Response(SummarySerializer(rows, many=True).data)
    data = SummariseSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    year, month = _month(data.validated_data)
    made = summaries_service.month_summarise(
        year=year,
        month=month,
        user=request.user,
        enterprise_id=data.validated_data["enterprise"],
    )
    return Response(
        SummarySerializer(made, many=True).data,
        status=status.HTTP_201_CREATED if made else status.HTTP_200_OK,
    )


@extend_schema(responses={200: dict})
@api_view(["GET"])
def tax_bill(request):
    """?enterprise=<organisation id>&month=YYYY-MM: the enterprise's own, or any for customs."""
    year, month = _month(request.query_params)
    try:
        enterprise = int(request.query_params.get("enterprise", ""))
    except ValueError:
        raise ValidationError({"enterprise": ["An organisation id."]}) from None
    if not queries.is_customs(request.user) and enterprise not in queries.roles_for(
        request.user
    ).get("enterprise", []):
        raise Http404
    return Response(queries.tax_bill(enterprise_id=enterprise, year=year, month=month))


@extend_schema(request=dict, responses={200: dict})
@api_view(["POST"])
def tax_bill_settle(request):
    """Customs records a paid month: {"enterprise": id, "month": "YYYY-MM"}; the month's tax
    drawn from the enterprise's guarantee goes back to it."""
    year, month = _month(request.data)
    try:
        enterprise = int(request.data.get("enterprise", ""))
    except (TypeError, ValueError):
        raise ValidationError({"enterprise": ["An organisation id."]}) from None
    if not queries.is_customs(request.user):
        raise PermissionDenied
    cents = tax_months.month_settle(
        officer=request.user, enterprise_id=enterprise, year=year, month=month
    )
    return Response({"restored": f"{cents / 100:.2f}"})
