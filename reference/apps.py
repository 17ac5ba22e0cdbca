from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferenceConfig(AppConfig):
    name = "reference"
    verbose_name = _("Reference data")

    def ready(self) -> None:
        from port import identifiers
        from reference import queries

        # Commodity codes are checked against the HS edition in force on the date asked for.
        identifiers.register_hs_lookup(queries.hs_subheading_in_force)
        # Places are checked against the UN/LOCODE edition in force, once one is loaded.
        identifiers.register_unlocode_lookup(queries.unlocode_known)
