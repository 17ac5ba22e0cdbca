"""Builders for shipping tests: a valid filing body, as service input and as API JSON."""

from shipping.filing_input import DangerousGoodInput, FilingInput, PersonInput

HEALTH_ALL_NO = {
    "deaths": False,
    "infectious_disease": False,
    "ill_above_normal": False,
    "ill_now": False,
    "medical_consulted": False,
    "spreading_condition": False,
    "sanitary_measure": False,
    "stowaways": False,
    "sick_animal": False,
}

CREW = [
    {
        "family_name": "LI",
        "given_names": "Guoqiang",
        "rank": "Master",
        "nationality": "CN",
        "date_of_birth": "1972-03-14",
        "document_number": "E12345678",
    },
    {
        "family_name": "SANTOS",
        "given_names": "Mario",
        "rank": "Chief Officer",
        "nationality": "PH",
        "date_of_birth": "1985-11-02",
        "document_number": "P7788123",
    },
]

DANGEROUS_GOOD = {
    "container_number": "CBHU6411248",
    "un_number": "2735",
    "imdg_class": "8",
    "packing_group": "II",
    "proper_shipping_name": "Amines, liquid, corrosive, n.o.s.",
    "stowage_position": "0101682",
    "gross_mass_kg": "21000",
}


def filing_body(**overrides) -> dict:
    body = {
        "master_name": "Li Guoqiang",
        "last_port": "HKHKG",
        "next_port": "CNSHA",
        "crew_count": 2,
        "passenger_count": 0,
        "cargo_description": "Containers, general cargo",
        "remarks": "",
        "health": dict(HEALTH_ALL_NO),
        "crew": [dict(p) for p in CREW],
        "passengers": [],
        "dangerous_goods": [],
    }
    body.update(overrides)
    return body


def filing_input(**overrides) -> FilingInput:
    body = filing_body(**overrides)
    return FilingInput(
        **{
            **body,
            "crew": [PersonInput(**p) for p in body["crew"]],
            "passengers": [PersonInput(**p) for p in body["passengers"]],
            "dangerous_goods": [DangerousGoodInput(**g) for g in body["dangerous_goods"]],
        }
    )
