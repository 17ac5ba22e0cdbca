"""`field__any=[...]`: `field = ANY(%s)` with the list sent as one array parameter.

`field__in=[...]` sends one parameter per value: at a vessel's 14,000 ids PostgreSQL
spends longer binding and planning than running the query (0.3-0.6 s a statement on our
machine). Use `__any` for lists that can be that long.

A list of integers (ids, the usual case) goes as the array's text, `'{1,2,3}'`, which
PostgreSQL reads as the column's array type: psycopg's quoting of a 7,000-id list element
by element took about 8 ms a statement, a vessel's assessment sends several.
"""

from django.db.models import Field, ForeignObject, Lookup


class Any(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        values = list(value)
        if all(type(v) is int for v in values):
            return ("%s", ["{" + ",".join(map(str, values)) + "}"])
        return ("%s", [values])

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


Field.register_lookup(Any)
ForeignObject.register_lookup(Any)
