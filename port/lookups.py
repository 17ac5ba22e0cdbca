"""`field__any=[...]`: `field = ANY(%s)` with the list sent as one array parameter.

`field__in=[...]` sends one parameter per value: at a vessel's 14,000 ids PostgreSQL
spends longer binding and planning than running the query (0.3-0.6 s a statement on our
machine). Use `__any` for lists that can be that long.
"""

from django.db.models import Field, ForeignObject, Lookup


class Any(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        return ("%s", [list(value)])

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


Field.register_lookup(Any)
ForeignObject.register_lookup(Any)
