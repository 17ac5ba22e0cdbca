"""The inspection fees a bill carries beside duty and taxes. The duty, consumption tax and
import VAT arithmetic (and its rate schedules) lives in `reference/duties.py`, shared with
the bonded zone's exits to the domestic market.
"""

# Inspection fees per container (hoisting, moving and opening it for the officers), by the
# kind of inspection: a demonstration schedule in fen (cents of CNY). The government bears
# them for compliant goods; the enterprise pays when the inspection finds a problem.
INSPECTION_FEE_CENTS = {
    "scan": 30_000,  # 300.00 CNY: a pass through the scanner
    "manual": 80_000,  # 800.00 CNY: unloaded and opened
    "quarantine": 80_000,  # 800.00 CNY: opened for the quarantine officers
}


def inspection_fee_cents(outcome: str) -> int:
    return INSPECTION_FEE_CENTS.get(outcome, 0)
