from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from certificates import mailings, queries, services
from certificates.models import Certificate, CertificateItem, Mailing
from certificates.tariffs import preference_for
from port import limits
from port.api import IDEMPOTENCY_HEADER, IdempotentCreateMixin


class CertificateItemInputSerializer(serializers.Serializer):
    """Structure only: the application service checks every value and reports all errors."""

    hs_code = serializers.CharField(max_length=10, allow_blank=True, help_text="10-digit code")
    description = serializers.CharField(max_length=250, allow_blank=True)
    marks = serializers.CharField(max_length=100, allow_blank=True, default="")
    packages = serializers.CharField(max_length=10, allow_blank=True)
    quantity = serializers.CharField(max_length=20, allow_blank=True)
    fob_value = serializers.CharField(
        max_length=20, allow_blank=True, default="", help_text="USD; required for RVC"
    )
    origin_criterion = serializers.CharField(
        max_length=4, allow_blank=True, help_text="WO, PE, RVC, CTC, CTH, CTSH, PSR, CR, ACU, DMI"
    )
    rvc_percent = serializers.CharField(max_length=10, allow_blank=True, default="")
    non_originating_inputs = serializers.ListField(
        child=serializers.CharField(max_length=10),
        default=list,
        max_length=limits.MAX_LIST,
        help_text="HS codes of non-originating materials (CTC, CTH, CTSH claims)",
    )


class CertificateCreateSerializer(serializers.Serializer):
    agreement = serializers.CharField(max_length=10, help_text="ACFTA (Form E) or RCEP")
    importer_name = serializers.CharField(max_length=200, allow_blank=True)
    importer_address = serializers.CharField(max_length=300, allow_blank=True, default="")
    importing_country = serializers.CharField(max_length=2, allow_blank=True, help_text="ISO 3166")
    producer = serializers.CharField(max_length=200, allow_blank=True, default="")
    vessel_name = serializers.CharField(max_length=100, allow_blank=True, default="")
    departure_date = serializers.CharField(max_length=10, allow_blank=True, default="")
    port_of_loading = serializers.CharField(max_length=5, allow_blank=True, default="")
    port_of_discharge = serializers.CharField(max_length=5, allow_blank=True, default="")
    invoice_number = serializers.CharField(max_length=40, allow_blank=True)
    invoice_date = serializers.CharField(max_length=10, allow_blank=True, help_text="YYYY-MM-DD")
    third_party_invoicing = serializers.BooleanField(default=False)
    back_to_back = serializers.BooleanField(default=False)
    retroactive = serializers.BooleanField(default=False)
    issuing_office = serializers.CharField(
        max_length=4,
        allow_blank=True,
        default="",
        help_text="Code of a customs office of your port; blank for the first of them",
    )
    items = CertificateItemInputSerializer(many=True, max_length=limits.MAX_GOODS_LINES)


class CertificateItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = CertificateItem
        fields = [
            "line_number",
            "hs_code",
            "description",
            "marks",
            "packages",
            "quantity",
            "fob_value",
            "origin_criterion",
            "rvc_percent",
            "non_originating_inputs",
        ]


class CertificateMailingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Mailing
        fields = ["status", "recipient", "address", "locker", "pickup_code", "tracking_number"]


class CertificateSerializer(serializers.ModelSerializer):
    agreement = serializers.CharField(source="agreement.code")
    exporter = serializers.StringRelatedField()
    issuing_office = serializers.CharField(source="issuing_office.office_code")

    class Meta:
        model = Certificate
        fields = [
            "id",
            "number",
            "status",
            "agreement",
            "exporter",
            "issuing_office",
            "importer_name",
            "importing_country",
            "invoice_number",
            "issued_at",
            "valid_until",
            "created_at",
        ]


class CertificateDetailSerializer(CertificateSerializer):
    items = CertificateItemSerializer(many=True, read_only=True)
    issuing_office_name = serializers.CharField(source="issuing_office.name")
    replaces = serializers.CharField(source="replaces.number", default=None)
    replaced_by = serializers.SerializerMethodField()
    mailing = serializers.SerializerMethodField()
    preference = serializers.SerializerMethodField()

    class Meta(CertificateSerializer.Meta):
        fields = [
            *CertificateSerializer.Meta.fields,
            "verification_code",
            "issuing_office_name",
            "importer_address",
            "producer",
            "vessel_name",
            "departure_date",
            "port_of_loading",
            "port_of_discharge",
            "invoice_date",
            "third_party_invoicing",
            "back_to_back",
            "retroactive",
            "review",
            "decision_note",
            "correction_fields",
            "replaces",
            "replaced_by",
            "items",
            "preference",
            "mailing",
        ]

    def get_replaced_by(self, certificate) -> str | None:
        replacement = getattr(certificate, "replaced_by", None)
        return replacement.number if replacement else None

    def get_mailing(self, certificate) -> dict | None:
        mailing = queries.mailing_for(certificate)
        return CertificateMailingSerializer(mailing).data if mailing else None

    def get_preference(self, certificate) -> dict:
        preference = preference_for(certificate, certificate.items.all())
        return {
            "items": [
                {
                    "line_number": line.line_number,
                    "mfn_rate": _text(line.mfn_rate),
                    "preferential_rate": _text(line.preferential_rate),
                    "duty_saved": _text(line.duty_saved),
                }
                for line in preference.items
            ],
            "total_duty_saved": str(preference.total),
            "source": "demo tariff table",
        }


def _text(value) -> str | None:
    return None if value is None else str(value)


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(allow_blank=True, default="")


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


class CorrectionRequestSerializer(serializers.Serializer):
    note = serializers.CharField(allow_blank=True, help_text="What the exporter must correct")
    fields = serializers.ListField(
        child=serializers.ChoiceField(choices=Certificate.Box.choices),
        default=list,
        max_length=len(Certificate.Box.choices),
        help_text="The boxes to correct",
    )


class ReplaceSerializer(ReasonSerializer):
    corrections = serializers.DictField(child=serializers.CharField(), default=dict)


class MailingRequestSerializer(serializers.Serializer):
    recipient = serializers.CharField(max_length=120, allow_blank=True)
    address = serializers.CharField(max_length=300, allow_blank=True)
    phone = serializers.CharField(max_length=30, allow_blank=True)


class LockerSerializer(serializers.Serializer):
    locker = serializers.CharField(max_length=20)


class CertificateFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Certificate.Status.choices)
    number = filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Certificate
        fields = ["status", "number"]


class CertificateViewSet(
    IdempotentCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Certificates of origin: your applications, or for a customs officer those applied for
    at their office. Another office's certificate is a 404."""

    filterset_class = CertificateFilter
    queryset = Certificate.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        certificates = queries.certificate_list(user=self.request.user)
        if self.action == "list":
            return certificates
        return certificates.select_related("replaces", "replaced_by", "mailing").prefetch_related(
            "items"
        )

    def get_serializer_class(self):
        return CertificateSerializer if self.action == "list" else CertificateDetailSerializer

    @extend_schema(
        request=CertificateCreateSerializer,
        responses={201: CertificateDetailSerializer},
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER)],
    )
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def create_once(self, request):
        certificate = services.certificate_apply(
            user=request.user,
            application=self._application(),
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER, "").strip(),
        )
        return self._detail(certificate, status.HTTP_201_CREATED)

    @extend_schema(request=CorrectionRequestSerializer, responses=CertificateDetailSerializer)
    @action(detail=True, methods=["post"], url_path="request-correction")
    def request_correction(self, request, pk=None):
        fields = self._input(CorrectionRequestSerializer)
        certificate = services.certificate_request_correction(
            certificate_id=self.get_object().pk, officer=request.user, **fields
        )
        return self._detail(certificate)

    @extend_schema(
        request=CertificateCreateSerializer,
        responses=CertificateDetailSerializer,
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER)],
    )
    @action(detail=True, methods=["post"])
    def resubmit(self, request, pk=None):
        """The exporter's corrected application, after an officer returned it."""
        return self.run_once(request, self._resubmit_once)

    def _resubmit_once(self, request):
        certificate = services.certificate_resubmit(
            certificate_id=self.get_object().pk, user=request.user, application=self._application()
        )
        return self._detail(certificate)

    @extend_schema(request=NoteSerializer, responses=CertificateDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        note = self._input(NoteSerializer)["note"]
        certificate = services.certificate_approve(
            certificate_id=self.get_object().pk, officer=request.user, note=note
        )
        return self._detail(certificate)

    @extend_schema(request=ReasonSerializer, responses=CertificateDetailSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        reason = self._input(ReasonSerializer)["reason"]
        certificate = services.certificate_reject(
            certificate_id=self.get_object().pk, officer=request.user, reason=reason
        )
        return self._detail(certificate)

    @extend_schema(request=ReasonSerializer, responses=CertificateDetailSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        reason = self._input(ReasonSerializer)["reason"]
        certificate = services.certificate_revoke(
            certificate_id=self.get_object().pk, officer=request.user, reason=reason
        )
        return self._detail(certificate)

    @extend_schema(request=ReplaceSerializer, responses={201: CertificateDetailSerializer})
    @action(detail=True, methods=["post"])
    def replace(self, request, pk=None):
        fields = self._input(ReplaceSerializer)
        certificate = services.certificate_replace(
            certificate_id=self.get_object().pk,
            officer=request.user,
            reason=fields["reason"],
            corrections=fields["corrections"],
        )
        return self._detail(certificate, status.HTTP_201_CREATED)

    @extend_schema(request=MailingRequestSerializer, responses={201: CertificateDetailSerializer})
    @action(detail=True, methods=["post"])
    def mailing(self, request, pk=None):
        fields = self._input(MailingRequestSerializer)
        mailing = mailings.mailing_request(
            user=request.user, certificate_id=self.get_object().pk, **fields
        )
        return self._detail(mailing.certificate, status.HTTP_201_CREATED)

    @extend_schema(request=LockerSerializer, responses=CertificateDetailSerializer)
    @action(detail=True, methods=["post"], url_path="mailing/locker")
    def place_in_locker(self, request, pk=None):
        locker = self._input(LockerSerializer)["locker"]
        certificate = self.get_object()
        mailing = queries.mailing_for(certificate)
        if mailing is None:
            return Response(
                {"detail": "No mailing was requested."}, status=status.HTTP_404_NOT_FOUND
            )
        mailings.mailing_place_in_locker(mailing_id=mailing.pk, officer=request.user, locker=locker)
        return self._detail(certificate)

    def _application(self) -> services.ApplicationInput:
        fields = dict(self._input(CertificateCreateSerializer))
        items = [services.ItemInput(**item) for item in fields.pop("items")]
        return services.ApplicationInput(items=items, **fields)

    def _input(self, serializer_class) -> dict:
        data = serializer_class(data=self.request.data)
        data.is_valid(raise_exception=True)
        return data.validated_data

    def _detail(self, certificate, code=status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=certificate.pk)
        return Response(CertificateDetailSerializer(fresh).data, status=code)
