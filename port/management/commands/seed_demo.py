"""Loads the demo port of Xiamen (CNXMN). Idempotent: run it as often as you like."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from certificates import services as certificate_services
from declarations.two_step import guarantee_account_set
from ecommerce import demo as ecommerce_demo
from inspection.models import Outcome, RiskRule
from inspection.services import rule_set_activate
from port.models import (
    Berth,
    BrokerAuthorisation,
    InspectionArea,
    Membership,
    Organisation,
    Port,
    PortCall,
    Terminal,
    User,
    Vessel,
    YardBlock,
)
from zones.services import zone_demo_set_up

DEMO_PASSWORD = "portwise-demo"  # noqa: S105 - published demo logins, listed in the README
K = Organisation.Kind
R = Membership.Role

ORGANISATIONS = {
    "customs": dict(
        name="Xiamen Customs, Haicang Office",
        name_local="厦门海关海沧办事处",
        kind=K.CUSTOMS_OFFICE,
        office_code="3701",
    ),
    # A second office of the port: certificates of origin the exporter routes there are
    # reviewed by its officers only, not by the Haicang office's.
    "customs_xiangyu": dict(
        name="Xiamen Customs, Xiangyu Office",
        name_local="厦门海关象屿办事处",
        kind=K.CUSTOMS_OFFICE,
        office_code="3703",
    ),
    "importer": dict(
        name="Xiamen Harbour Foods Import Co., Ltd.",
        name_local="厦门港湾食品进口有限公司",
        kind=K.ENTERPRISE,
        uscc="91350200MA2Y3K8F7N",
        customs_code="3502960127",
        credit_rating=Organisation.CreditRating.CERTIFIED,
    ),
    "exporter": dict(
        name="Fujian Sunrise Ceramics Export Co., Ltd.",
        name_local="福建旭日陶瓷出口有限公司",
        kind=K.ENTERPRISE,
        uscc="91350206MA8RW1QX32",
        customs_code="3502930458",
        credit_rating=Organisation.CreditRating.GENERAL,
    ),
    "broker": dict(
        name="Xiamen Jinhai Customs Brokerage Co., Ltd.",
        name_local="厦门金海报关有限公司",
        kind=K.CUSTOMS_BROKER,
        uscc="91350200260131527Y",
        customs_code="3502980021",
        credit_rating=Organisation.CreditRating.CERTIFIED,
    ),
    "terminal": dict(
        name="Xiamen Haitian Container Terminal Co., Ltd.",
        name_local="厦门海天集装箱码头有限公司",
        kind=K.TERMINAL_OPERATOR,
    ),
    "maritime": dict(
        name="Xiamen Maritime Safety Administration",
        name_local="厦门海事局",
        kind=K.MARITIME_SAFETY,
    ),
    "border": dict(
        name="Xiamen Border Inspection Station",
        name_local="厦门出入境边防检查站",
        kind=K.BORDER_CONTROL,
    ),
    "portauth": dict(
        name="Xiamen Port Authority",
        name_local="厦门港口管理局",
        kind=K.PORT_AUTHORITY,
    ),
    # Two enterprises of the Xiangyu bonded zone (zones/): stock accounts and the gate.
    "zoneco": dict(
        name="Xiamen Xiangyu Tech Supply Chain Co., Ltd.",
        name_local="厦门象屿科技供应链有限公司",
        kind=K.ENTERPRISE,
        uscc="91350200MA8XY1KB10",
        credit_rating=Organisation.CreditRating.GENERAL,
    ),
    "zoneco2": dict(
        name="Xiamen Xiangyu Bonded Electronics Co., Ltd.",
        name_local="厦门象屿保税电子有限公司",
        kind=K.ENTERPRISE,
        uscc="91350200MA8XY2KC2B",
        credit_rating=Organisation.CreditRating.GENERAL,
    ),
    # Cross-border e-commerce (ecommerce/): the three documents' senders, the declarant
    # and the supervision site with its sorting line.
    "ecplatform": dict(
        name="Haixi Global Shop",
        name_local="海西全球购",
        kind=K.ENTERPRISE,
        uscc="91350200MA8EC1010L",
    ),
    "ecseller": dict(
        name="Haixi Beauty Trading Co.",
        name_local="海西美妆贸易",
        kind=K.ENTERPRISE,
        uscc="91350200MA8EC2020W",
    ),
    "ecpay": dict(
        name="Lujiang Pay", name_local="鹭江支付", kind=K.ENTERPRISE, uscc="91350200MA8EC30305"
    ),
    "eclogistics": dict(
        name="Egret Express", name_local="白鹭快递", kind=K.ENTERPRISE, uscc="91350200MA8EC4040D"
    ),
    "ecdeclarant": dict(
        name="Xiamen E-commerce Declaring Services",
        name_local="厦门跨境申报服务",
        kind=K.ENTERPRISE,
        uscc="91350200MA8EC5050M",
    ),
    "ecsite": dict(
        name="Xiamen Cross-border Supervision Site",
        name_local="厦门跨境电商监管中心",
        kind=K.TERMINAL_OPERATOR,
    ),
    "agent": dict(
        name="Xiamen Ocean Shipping Agency",
        name_local="厦门外轮代理有限公司",
        kind=K.SHIPPING_AGENT,
    ),
}

# username: (organisation, role, first name, last name)
USERS = {
    "importer": ("importer", R.DECLARANT, "Lin", "Xiaomei"),
    "exporter": ("exporter", R.DECLARANT, "Chen", "Wei"),
    "broker": ("broker", R.DECLARANT, "Huang", "Jun"),
    "officer": ("customs", R.OFFICER, "Zhang", "Min"),
    "expert": ("customs", R.SUPERVISOR, "Guo", "Hua"),
    # The Haicang office's quarantine officer: owns the quarantine access stage.
    "quarantine": ("customs", R.QUARANTINE, "He", "Ping"),
    "xiangyu": ("customs_xiangyu", R.OFFICER, "Lu", "Fang"),
    "terminal": ("terminal", R.OPERATOR, "Wu", "Hao"),
    "maritime": ("maritime", R.REVIEWER, "Zheng", "Lei"),
    "border": ("border", R.REVIEWER, "Xu", "Yang"),
    "portauth": ("portauth", R.REVIEWER, "Cai", "Ning"),
    "agent": ("agent", R.DECLARANT, "Ye", "Qing"),
    "zoneco": ("zoneco", R.DECLARANT, "Song", "Jia"),
    "zoneco2": ("zoneco2", R.DECLARANT, "Fang", "Yu"),
    "ecplatform": ("ecplatform", R.DECLARANT, "Qiu", "Lan"),
    "ecseller": ("ecseller", R.DECLARANT, "Mo", "Yun"),
    "ecdeclarant": ("ecdeclarant", R.DECLARANT, "Shi", "Rui"),
    "ecsite": ("ecsite", R.OPERATOR, "Kong", "Bo"),
    # The zone gate's camera system signs in as the Xiangyu office's operator.
    "zonegate": ("customs_xiangyu", R.OPERATOR, "Gate", "Camera"),
}

TERMINALS = {
    "XHCT": ("Haitian Terminal", "terminal", ["13", "14", "15"], ["A1", "A2", "B1", "B2"]),
    "SYCT": ("Songyu Terminal", None, ["1", "2"], ["S1", "S2", "S3"]),
}

RULES = [
    dict(
        name="Frozen bovine meat: quarantine check",
        public_reason="Imported meat is checked by quarantine officers.",
        hs_prefix="0202",
        action=Outcome.QUARANTINE,
        priority=10,
    ),
    dict(
        name="Used machinery: manual inspection",
        public_reason="Used machinery is inspected for condition and origin.",
        hs_prefix="8479",
        action=Outcome.MANUAL,
        priority=20,
    ),
]


def _tiles(**overrides) -> dict:
    return {
        "hs_code": "6907210000",
        "description": "Glazed ceramic floor tiles",
        "marks": "SUNRISE",
        "packages": 1200,
        "quantity": "18000",
        "fob_value": "600000.00",
        "origin_criterion": "WO",
        **overrides,
    }


# Demo certificates of origin, applied for by `exporter` through the real service; the
# idempotency key makes a rerun return the first application. (key, application fields,
# goods lines, days from today to the invoice and to the departure; None leaves it blank.)
CERTIFICATES = [
    # Every check passes: issued at once, with its PDF; the consignee's Chinese name prints.
    (
        "demo-co-issued",
        dict(
            agreement="ACFTA",
            importer_name="Saigon Home Materials JSC 西贡家居建材股份公司",
            importer_address="12 Nguyen Hue, District 1, Ho Chi Minh City",
            importing_country="VN",
            producer="德化旭日陶瓷厂 Dehua Sunrise Ceramics Factory",
            vessel_name="CSCL XIAMEN",
            port_of_loading="CNXMN",
            port_of_discharge="VNSGN",
            invoice_number="SR-DEMO-0815",
        ),
        [_tiles()],
        -3,
        2,
    ),
    # RVC 35 % against the 40 % threshold: an officer of the Haicang office decides.
    (
        "demo-co-review",
        dict(
            agreement="RCEP",
            importer_name="Osaka Tile Trading K.K.",
            importer_address="2-1 Umeda, Kita-ku, Osaka",
            importing_country="JP",
            producer="Dehua Sunrise Ceramics Factory",
            vessel_name="OOCL FUZHOU",
            port_of_loading="CNXMN",
            port_of_discharge="JPOSA",
            invoice_number="SR-DEMO-0816",
        ),
        [_tiles(origin_criterion="RVC", rvc_percent="35", fob_value="240000.00")],
        -2,
        4,
    ),
    # Incomplete: no vessel, departure date or importer address; the review names the
    # boxes to correct.
    (
        "demo-co-correction",
        dict(
            agreement="ACFTA",
            importer_name="Bangkok Ceramic Supply Co., Ltd.",
            importing_country="TH",
            port_of_loading="CNXMN",
            port_of_discharge="THLCH",
            invoice_number="SR-DEMO-0817",
        ),
        [_tiles(description="Porcelain wall tiles", fob_value="150000.00")],
        -1,
        None,
    ),
    # Routed by the exporter to the Xiangyu office: only `xiangyu` sees and decides it.
    (
        "demo-co-xiangyu",
        dict(
            agreement="ACFTA",
            importer_name="Penang Build Mart Sdn. Bhd.",
            importer_address="8 Lebuh Pantai, George Town, Penang",
            importing_country="MY",
            vessel_name="OOCL FUZHOU",
            port_of_loading="CNXMN",
            port_of_discharge="MYPEN",
            invoice_number="SR-DEMO-0818",
            issuing_office="3703",
        ),
        [_tiles(origin_criterion="RVC", rvc_percent="38", fob_value="90000.00")],
        -1,
        4,
    ),
]


# The incomplete application, returned to the exporter by the Haicang officer through the
# real service: (key, the officer's note, the boxes to correct).
RETURNED_FOR_CORRECTION = (
    "demo-co-correction",
    "Give the importer's address, the vessel and the departure date, then resubmit.",
    ["importer_address", "vessel_name", "departure_date"],
)


class Command(BaseCommand):
    help = (
        "Load the demo port (Xiamen) with its organisations, logins, vessel calls and "
        "certificates of origin."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--no-certificates",
            dest="certificates",
            action="store_false",
            help="Leave out the demo certificates of origin and parcels (the tests' bare port).",
        )

    @transaction.atomic
    def handle(self, *args, certificates: bool = True, **options) -> None:
        port, _ = Port.objects.update_or_create(
            unlocode="CNXMN", defaults={"name": "Xiamen", "name_local": "厦门"}
        )
        orgs = {
            key: Organisation.objects.update_or_create(
                name=fields["name"], defaults={**fields, "port": port}
            )[0]
            for key, fields in ORGANISATIONS.items()
        }
        terminals = self._terminals(port, orgs)
        InspectionArea.objects.update_or_create(
            terminal=terminals["XHCT"],
            code="IA1",
            defaults={
                "name": "Haitian Inspection Area",
                "customs_office": orgs["customs"],
                "bays": 6,
            },
        )
        for enterprise in (orgs["importer"], orgs["exporter"]):
            BrokerAuthorisation.objects.get_or_create(
                enterprise=enterprise,
                broker=orgs["broker"],
                defaults={"valid_from": date(2026, 1, 1)},
            )
        self._users(orgs)
        zone_demo_set_up(
            port=port, office=orgs["customs_xiangyu"], enterprises=[orgs["zoneco"], orgs["zoneco2"]]
        )
        self._port_calls(port, terminals, orgs["agent"])
        ecommerce_demo.demo_set_up(
            platform=orgs["ecplatform"],
            enterprise=orgs["ecseller"],
            payment=orgs["ecpay"],
            logistics=orgs["eclogistics"],
            declarant=orgs["ecdeclarant"],
            site=orgs["ecsite"],
            parcels=certificates,  # the tests' bare port starts with no timeline events
        )
        for rule in RULES:
            RiskRule.objects.update_or_create(name=rule["name"], defaults=rule)
        rule_set_activate(officer=None)  # a no-op when the rules are unchanged
        # Two-step declaration: the general-credit exporter draws on a guarantee quota; the
        # certified (AEO) importer is exempt and has none.
        guarantee_account_set(enterprise=orgs["exporter"], quota=Decimal("500000.00"))
        if certificates:
            self._certificates(User.objects.get(username="exporter"))
        if options["verbosity"]:
            self.stdout.write(self.style.SUCCESS("Demo port of Xiamen (CNXMN) is loaded."))

    def _terminals(self, port, orgs) -> dict[str, Terminal]:
        terminals = {}
        for code, (name, operator, berths, blocks) in TERMINALS.items():
            terminal, _ = Terminal.objects.update_or_create(
                port=port,
                code=code,
                defaults={"name": name, "operator": orgs[operator] if operator else None},
            )
            for berth in berths:
                Berth.objects.update_or_create(
                    terminal=terminal,
                    code=berth,
                    defaults={"length_m": 350, "depth_m": Decimal("15.5")},
                )
            for block in blocks:
                YardBlock.objects.update_or_create(
                    terminal=terminal, code=block, defaults={"capacity_teu": 1200}
                )
            terminals[code] = terminal
        return terminals

    def _users(self, orgs) -> None:
        for username, (org_key, role, first, last) in USERS.items():
            user = self._user(username, first_name=first, last_name=last)
            Membership.objects.update_or_create(
                user=user, organisation=orgs[org_key], defaults={"role": role}
            )
        admin = self._user("admin", first_name="Portwise", last_name="Admin")
        if not admin.is_superuser:
            admin.is_superuser = admin.is_staff = True
            admin.save(update_fields=["is_superuser", "is_staff"])

    def _user(self, username: str, **names) -> User:
        user, created = User.objects.get_or_create(username=username, defaults=names)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user

    def _certificates(self, exporter: User) -> None:
        today = timezone.localdate()
        for key, fields, items, invoice_days, departure_days in CERTIFICATES:
            application = certificate_services.ApplicationInput(
                **fields,
                invoice_date=today + timedelta(days=invoice_days),
                departure_date=(
                    None if departure_days is None else today + timedelta(days=departure_days)
                ),
                items=[certificate_services.ItemInput(**item) for item in items],
            )
            certificate = certificate_services.certificate_apply(
                user=exporter, application=application, idempotency_key=key
            )
            returned_key, note, boxes = RETURNED_FOR_CORRECTION
            # A rerun finds it returned already and leaves it.
            if key == returned_key and certificate.status == certificate.Status.UNDER_REVIEW:
                certificate_services.certificate_request_correction(
                    certificate_id=certificate.pk,
                    officer=User.objects.get(username="officer"),
                    note=note,
                    fields=boxes,
                )

    def _port_calls(self, port, terminals, agent) -> None:
        today = timezone.localdate()
        tz = timezone.get_current_timezone()
        calls = [
            ("9417402", "CSCL XIAMEN", "BVDB7", "CN", "062E", "XHCT", -1, PortCall.Status.EXPECTED),
            ("9795610", "OOCL FUZHOU", "VRQE4", "HK", "118W", "SYCT", 1, PortCall.Status.EXPECTED),
        ]
        # MMSI, gross and net tonnage per IMO number.
        particulars = {
            "9417402": ("413452000", 90645, 53870),
            "9795610": ("477152300", 144285, 78127),
        }
        for imo, name, call_sign, flag, voyage, terminal, days, status in calls:
            mmsi, gross, net = particulars[imo]
            vessel, _ = Vessel.objects.update_or_create(
                imo_number=imo,
                defaults={
                    "name": name,
                    "call_sign": call_sign,
                    "flag": flag,
                    "mmsi": mmsi,
                    "gross_tonnage": gross,
                    "net_tonnage": net,
                },
            )
            eta = timezone.make_aware(
                datetime.combine(today + timedelta(days=days), time(6, 0)), tz
            )
            PortCall.objects.get_or_create(
                vessel=vessel,
                port=port,
                voyage=voyage,
                defaults={
                    "terminal": terminals[terminal],
                    "eta": eta,
                    "etd": eta + timedelta(hours=30),
                    "status": status,
                    "agent": agent,
                },
            )
