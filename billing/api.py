from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from billing import queries, services
from billing.models import InspectionFee, Payment, TaxBill, TaxBillLine
from port.api import IdempotentMixin


class LineSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaxBillLine
        exclude = ["id", "bill"]


class FeeSerializer(serializers.ModelSerializer):
    class Meta:
        model = InspectionFee
        fields = ["inspection_id", "container", "outcome", "result", "amount_cents", "borne_by"]


class FeesSummarySerializer(serializers.Serializer):
    currency = serializers.CharField()
    waived_cents = serializers.IntegerField(help_text="Borne by the government (compliant goods)")
    waived_count = serializers.IntegerField()
    charged_cents = serializers.IntegerField(help_text="Billed: the inspection found a problem")
    charged_count = serializers.IntegerField()


class PaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = [
            "method",
            "amount_cents",
            "receipt_number",
            "bank_reference",
            "insurer",
            "policy_number",
            "created_at",
        ]


class BillSerializer(serializers.ModelSerializer):
    declaration_number = serializers.CharField(source="declaration.number", read_only=True)
    lines = LineSerializer(many=True, read_only=True)
    fees = FeeSerializer(many=True, read_only=True)
    payment = PaymentSerializer(read_only=True, allow_null=True)

    class Meta:
        model = TaxBill
        fields = [
            "id",
            "number",
            "declaration",
            "declaration_number",
            "currency",
            "exchange_rate",
            "tariff_cents",
            "consumption_cents",
            "vat_cents",
            "fees_cents",
            "fees_waived_cents",
            "total_cents",
            "status",
            "due_at",
            "paid_at",
            "lines",
            "fees",
            "payment",
        ]


class PayInput(serializers.Serializer):
    method = serializers.ChoiceField(choices=Payment.Method.choices)
    insurer = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")
    policy_number = serializers.CharField(
        required=False, allow_blank=True, max_length=40, default=""
    )
    cover_cents = serializers.IntegerField(
        required=False, min_value=0, max_value=10**15, default=None, allow_null=True
    )


class BillViewSet(
    IdempotentMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The enterprise's tax bills (duty, consumption tax, VAT per line, in cents of CNY)."""

    serializer_class = BillSerializer

    queryset = TaxBill.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return queries.bill_list(user=self.request.user).prefetch_related("lines", "fees")

    @extend_schema(request=None, responses=FeesSummarySerializer)
    @action(detail=False, methods=["get"])
    def fees(self, request):
        """Inspection fees: borne by the government for compliant goods, or billed."""
        return Response(FeesSummarySerializer(queries.fees_summary(user=request.user)).data)

    @extend_schema(request=PayInput, responses=BillSerializer)
    @action(detail=True, methods=["post"])
    def pay(self, request, pk=None):
        """Pay the bill once: bank, guarantee or guarantee insurance. Idempotency-Key replays."""
        return self.run_once(request, self._pay_once)

    def _pay_once(self, request):
        data = PayInput(data=request.data)
        data.is_valid(raise_exception=True)
        bill = self.get_object()
        services.bill_pay(bill_id=bill.pk, user=request.user, **data.validated_data)
        return Response(
            BillSerializer(queries.bill_get_for_user(user=request.user, bill_id=bill.pk)).data
        )
