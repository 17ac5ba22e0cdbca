"""Table statistics for the benches, as a production PostgreSQL keeps them.

A production PostgreSQL analyses a table once a tenth of it has changed (autovacuum, on by
default, and on in the embedded server `make run` starts). This machine's server runs with
autovacuum off (its CI configuration), so a bench's fresh tables never get statistics: the
planner then guesses, and its guesses grow worse as the tables grow (the e-commerce API
read every list of the declarant to find 2,000 numbers, 90 ms at 400,000 lists; the single
filing's database CPU per request rose run by run, 2.65 to 3.77 ms). Where autovacuum is
off, the benches analyse their tables themselves, untimed, before each run (ANALYZE samples
30,000 rows of a table: well under a second).
"""

from django.db import connection


def analyze_as_autovacuum_would(*models) -> None:
    """ANALYZE the models' tables (all of the database's with none named) where
    autovacuum is off."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        if cursor.fetchone()[0] == "on":
            return
        if not models:
            cursor.execute("ANALYZE")
        for model in models:
            cursor.execute(f"ANALYZE {model._meta.db_table}")
