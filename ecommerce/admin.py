from django.contrib import admin

from ecommerce.models import ListRiskRule, Participant, PositiveListEntry, WatchedBuyer


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["code", "role", "organisation"]
    list_filter = ["role"]


@admin.register(PositiveListEntry)
class PositiveListEntryAdmin(admin.ModelAdmin):
    list_display = ["hs_prefix", "category", "vat_bp", "consumption_bp"]


@admin.register(ListRiskRule)
class ListRiskRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "action", "sampling_rate", "priority", "is_active"]


@admin.register(WatchedBuyer)
class WatchedBuyerAdmin(admin.ModelAdmin):
    list_display = ["buyer_id_masked", "note"]
    readonly_fields = ["buyer_key"]
