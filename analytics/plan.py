"""The one map: the demo port's terminals laid out as an SVG plan, with live figures.

Positions are computed here from the port's reference data (terminals, berths, yard
blocks, inspection areas), so a terminal or berth added in the admin appears on the plan.
Figures come from the rollups (containers under declaration, waiting for inspection) and
from the port calls' current state (vessels at berth).
"""

from datetime import timedelta

from django.db.models import Sum
from django.utils import timezone

from analytics import statistics
from analytics.queries import Scope
from inspection import queries as inspection_queries
from port.models import PortCall, Terminal
from zones import queries as zone_queries

BERTH_WIDTH, BERTH_GAP = 150, 10
BLOCK_WIDTH, BLOCK_HEIGHT, BLOCK_GAP = 110, 70, 12
TERMINAL_GAP, MARGIN = 40, 20
QUAY_Y, WATER_HEIGHT = 310, 90
BLOCKS_PER_ROW = 3
ZONE_WIDTH, GATE_HEIGHT = 300, 24


def port_plan(scope: Scope) -> dict:
    """Terminals with their berths (and the vessel at each), yard blocks and inspection
    areas, each with x/y/width/height in plan units, and the figures to show on them."""
    terminals = list(
        Terminal.objects.prefetch_related("berths", "yard_blocks", "inspection_areas").order_by(
            "code"
        )
    )
    at_berth = {
        call.berth_id: call
        for call in PortCall.objects.filter(
            status=PortCall.Status.BERTHED, berth__isnull=False
        ).select_related("vessel")
    }
    figures = _figures_by_terminal(scope)
    # How far each vessel's discharge has got: the terminal's figure, port-wide only.
    discharge = (
        inspection_queries.discharge_progress(port_call_ids=[c.pk for c in at_berth.values()])
        if scope.port_wide
        else {}
    )
    x, laid_out = MARGIN, []
    for terminal in terminals:
        item = _terminal(terminal, x, at_berth, figures.get(terminal.pk, {}), discharge)
        laid_out.append(item)
        x += item["width"] + TERMINAL_GAP
    zones = []
    for zone in zone_queries.gate_map(
        organisation_ids=None if scope.port_wide else list(scope.organisation_ids)
    ):
        zones.append(_zone(zone, x))
        x += ZONE_WIDTH + TERMINAL_GAP
    expected = (
        PortCall.objects.filter(status=PortCall.Status.EXPECTED)
        .select_related("vessel", "terminal")
        .order_by("eta")[:6]
    )
    return {
        "terminals": laid_out,
        "zones": zones,
        "width": max(x - TERMINAL_GAP + MARGIN, 400),
        "height": QUAY_Y + WATER_HEIGHT,
        "quay_y": QUAY_Y,
        "water_height": WATER_HEIGHT,
        "expected": [
            {"vessel": c.vessel.name, "voyage": c.voyage, "terminal": c.terminal.code, "eta": c.eta}
            for c in expected
        ],
        "vessels_at_berth": len(at_berth),
    }


def _zone(zone: dict, x: int) -> dict:
    """A bonded zone inland of the quay: its ground, and its gates on the quay side."""
    gates = zone["gates"]
    width = ZONE_WIDTH // max(len(gates), 1)
    return {
        **zone,
        "x": x,
        "width": ZONE_WIDTH,
        "gates": [
            {
                **gate,
                "x": x + index * width,
                "y": QUAY_Y - 60 - GATE_HEIGHT,
                "width": width - BLOCK_GAP,
                "height": GATE_HEIGHT,
                "lane_width": (width - BLOCK_GAP) / max(gate["lanes"], 1),
                "lane_xs": [
                    round(x + index * width + n * (width - BLOCK_GAP) / max(gate["lanes"], 1), 1)
                    for n in range(gate["lanes"])
                ],
            }
            for index, gate in enumerate(gates)
        ],
    }


def _terminal(terminal, x: int, at_berth: dict, figures: dict, discharge: dict) -> dict:
    berths = list(terminal.berths.all())
    blocks = list(terminal.yard_blocks.all())
    areas = list(terminal.inspection_areas.all())
    width = max(
        len(berths) * (BERTH_WIDTH + BERTH_GAP) - BERTH_GAP,
        BLOCKS_PER_ROW * (BLOCK_WIDTH + BLOCK_GAP),
    )
    berth_items = []
    for index, berth in enumerate(berths):
        call = at_berth.get(berth.pk)
        berth_items.append(
            {
                "code": berth.code,
                "x": x + index * (BERTH_WIDTH + BERTH_GAP),
                "width": BERTH_WIDTH,
                "vessel": call.vessel.name if call else "",
                "voyage": call.voyage if call else "",
                "aboard": discharge.get(call.pk, {}).get("aboard") if call else None,
                "discharged": discharge.get(call.pk, {}).get("discharged") if call else None,
            }
        )
    block_items = [
        {
            "code": block.code,
            "capacity_teu": block.capacity_teu,
            "x": x + (index % BLOCKS_PER_ROW) * (BLOCK_WIDTH + BLOCK_GAP),
            "y": 80 + (index // BLOCKS_PER_ROW) * (BLOCK_HEIGHT + BLOCK_GAP),
            "width": BLOCK_WIDTH,
            "height": BLOCK_HEIGHT,
        }
        for index, block in enumerate(blocks)
    ]
    rows = (len(blocks) + BLOCKS_PER_ROW - 1) // BLOCKS_PER_ROW
    area_y = 80 + rows * (BLOCK_HEIGHT + BLOCK_GAP)
    area_items = [
        {
            "code": area.code,
            "name": area.name,
            "bays": area.bays,
            "x": x + index * (width // max(len(areas), 1)),
            "y": area_y,
            "width": width // max(len(areas), 1) - BLOCK_GAP,
            "height": 50,
            "waiting": figures.get("waiting", 0) if index == 0 else 0,
        }
        for index, area in enumerate(areas)
    ]
    return {
        "code": terminal.code,
        "name": terminal.name,
        "x": x,
        "width": width,
        "label_y": 40,
        "berths": berth_items,
        "blocks": block_items,
        "areas": area_items,
        "containers_today": figures.get("containers_today", 0),
        "waiting": figures.get("waiting", 0),
    }


def _figures_by_terminal(scope: Scope) -> dict[int, dict]:
    """Per terminal: containers declared in the last 24 hours, and containers waiting for
    inspection (selected, not yet released). Read from the clearance facts."""
    now = timezone.now()
    since = now - timedelta(hours=24)
    declared = (
        statistics.facts_in_scope(scope)
        .filter(filed_at__gte=since)
        .values("terminal_id")
        .annotate(containers=Sum("containers"))
    )
    waiting = (
        statistics.waiting_for_inspection(scope, now)
        .values("terminal_id")
        .annotate(containers=Sum("containers_selected"))
    )
    figures: dict[int, dict] = {}
    for row in declared:
        figures.setdefault(row["terminal_id"], {})["containers_today"] = row["containers"] or 0
    for row in waiting:
        figures.setdefault(row["terminal_id"], {})["waiting"] = row["containers"] or 0
    return figures
