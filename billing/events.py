def bills_changed() -> dict:
    """An enterprise's bills changed (made, paid, overdue): its pages re-fetch the list."""
    return {"type": "bills.changed"}
