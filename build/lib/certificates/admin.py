from django.contrib import admin

from certificates.models import Agreement, Certificate


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "form_name", "rvc_threshold", "validity_months"]


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    """Read-only: certificates change only through the services, which keep the timeline."""

    list_display = ["__str__", "agreement", "exporter", "issuing_office", "status", "created_at"]
    list_filter = ["status", "agreement", "issuing_office"]
    search_fields = ["number", "invoice_number", "importer_name"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
