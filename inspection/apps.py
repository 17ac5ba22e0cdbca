from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InspectionConfig(AppConfig):
    name = "inspection"
    verbose_name = _("Inspection")

    def ready(self) -> None:
        from declarations import queries as declaration_queries
        from inspection import diversion, gate, queries
        from port import live, outbox
        from shipping import services as shipping_services
        from shipping import terminal_moves

        live.register_topic("inspection_queue", queries.inspection_queue_live_group)
        if diversion.diversion_plan_for_berthed_call not in shipping_services.BERTHED_HOOKS:
            shipping_services.BERTHED_HOOKS.append(diversion.diversion_plan_for_berthed_call)
        # A terminal's EDIFACT file reports discharges and gate moves through these services.
        terminal_moves.TERMINAL_REPORTERS["discharge"] = diversion.containers_report_discharged
        terminal_moves.TERMINAL_REPORTERS["gate"] = gate.gate_report
        if queries.decisions_with_whereabouts not in declaration_queries.DECISION_READERS:
            declaration_queries.DECISION_READERS.append(queries.decisions_with_whereabouts)
        if queries.declaration_detail_extras not in declaration_queries.DETAIL_READERS:
            declaration_queries.DETAIL_READERS.append(queries.declaration_detail_extras)
        # Assessment of any union of declarations is the assessment of each: rows queued by
        # single filings in a rush go to the worker as one batch.
        outbox.register_mergeable("inspection.assess_declarations", "declaration_ids")
