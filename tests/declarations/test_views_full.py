"""Pages: drafts, amendment and withdrawal, the look-ups, the list's filters."""

from declarations.models import Declaration
from inspection import assessment
from port.models import TimelineEvent
from tests.declarations.factories import file
from tests.declarations.test_views import form_data


def test_save_draft_then_submit_from_the_page(demo, client):
    client.force_login(demo.importer)

    response = client.post("/declarations/new/", {**form_data(demo), "action": "draft"})
    draft = Declaration.objects.get()
    page = client.get(response["Location"]).content.decode()
    submitted = client.post(f"/declarations/{draft.pk}/submit/")

    assert draft.status == "draft"
    assert "Edit draft" in page
    assert submitted.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "submitted"


def test_edit_draft_keeps_values_and_saves_changes(demo, client):
    client.force_login(demo.importer)
    client.post("/declarations/new/", {**form_data(demo), "action": "draft"})
    draft = Declaration.objects.get()

    form = client.get(f"/declarations/{draft.pk}/edit/").content.decode()
    client.post(
        f"/declarations/{draft.pk}/edit/",
        {**form_data(demo, bl_number="EDITED0002", incoterm="CIF"), "action": "draft"},
    )

    assert 'value="COSU6401234560"' in form
    draft.refresh_from_db()
    assert (draft.bl_number, draft.incoterm, draft.status) == ("EDITED0002", "CIF", "draft")


def test_amend_in_the_page_needs_a_reason_then_records_it(demo, client):
    client.force_login(demo.importer)
    client.post("/declarations/new/", form_data(demo))
    declaration = Declaration.objects.get()

    refused = client.post(
        f"/declarations/{declaration.pk}/edit/", {**form_data(demo), "reason": ""}
    )
    client.post(
        f"/declarations/{declaration.pk}/edit/",
        {**form_data(demo, gross_weight="25000", net_weight="24000"), "reason": "Weights added"},
    )

    assert "Give the reason for the amendment." in refused.content.decode()
    declaration.refresh_from_db()
    assert declaration.status == "amended"
    assert declaration.gross_weight == 25000
    page = client.get(f"/declarations/{declaration.pk}/").content.decode()
    assert "Reason: Weights added" in page


def test_withdraw_in_the_page_without_reason_shows_the_error_and_changes_nothing(demo, client):
    client.force_login(demo.importer)
    client.post("/declarations/new/", form_data(demo))
    declaration = Declaration.objects.get()

    refused = client.post(f"/declarations/{declaration.pk}/withdraw/", {"reason": ""})
    done = client.post(f"/declarations/{declaration.pk}/withdraw/", {"reason": "Duplicate"})

    assert refused.status_code == 400
    assert "Give the reason for the withdrawal." in refused.content.decode()
    assert done.status_code == 302
    declaration.refresh_from_db()
    assert declaration.status == "withdrawn"


def test_another_enterprise_cannot_open_the_edit_page_or_withdraw(demo, client):
    declaration = file(demo)
    client.force_login(demo.exporter)

    assert client.get(f"/declarations/{declaration.pk}/edit/").status_code == 404
    assert (
        client.post(f"/declarations/{declaration.pk}/withdraw/", {"reason": "x"}).status_code == 404
    )
    declaration.refresh_from_db()
    assert declaration.status == "submitted"
    assert TimelineEvent.objects.filter(data__to="withdrawn").exists() is False


def test_commodity_code_and_cas_lookups_answer_as_you_type(demo, client):
    client.force_login(demo.importer)

    hs = client.get("/declarations/lookup/hs/", {"q": "690721"}).json()
    cas = client.get("/declarations/lookup/cas/", {"q": "acetone"}).json()
    by_number = client.get("/declarations/lookup/cas/", {"q": "7647-14"}).json()

    assert [r["code"] for r in hs["results"]] == ["690721"]
    assert cas["results"] == [{"cas_number": "67-64-1", "hs_code": "291411", "name": "Acetone"}]
    assert by_number["results"][0]["hs_code"] == "250100"


def test_lookups_need_a_login(client):
    assert client.get("/declarations/lookup/cas/", {"q": "acetone"}).status_code == 302


def test_list_filters_by_status_and_commodity_code(demo, client):
    from tests.conftest import MEAT_ITEM

    beef = file(demo, items=[MEAT_ITEM])
    tiles = file(demo)
    client.force_login(demo.importer)

    page = client.get("/declarations/", {"hs_code": "0202"}).content.decode()
    empty = client.get("/declarations/", {"status": "released"}).content.decode()

    assert beef.number in page
    assert tiles.number not in page
    assert "No declaration matches these filters" in empty


def test_the_summary_page_shows_the_step_2_countdown(demo, client):

    summary = file(demo, user=demo.exporter, kind="summary")
    assessment.assess_declarations(declaration_ids=[summary.pk])
    client.force_login(demo.exporter)

    page = client.get(f"/declarations/{summary.pk}/").content.decode()
    listing = client.get("/declarations/").content.decode()

    assert "Step 2: full declaration" in page
    assert "1\xa0week, 6\xa0days left" in page
    assert f"/declarations/new/?summary={summary.pk}" in listing
    assert "376,400.00 of 500,000.00 CNY available" in listing or "376400.00" in listing


def test_file_step_2_opens_the_form_filled_from_the_summary(demo, client):

    summary = file(demo, user=demo.exporter, kind="summary")
    assessment.assess_declarations(declaration_ids=[summary.pk])
    client.force_login(demo.exporter)

    page = client.get(f"/declarations/new/?summary={summary.pk}").content.decode()

    assert f'value="{summary.bl_number}"' in page
    assert f'<option value="{summary.pk}" selected>' in page


def test_the_next_page_keeps_the_filters(demo, client):
    for _ in range(26):
        file(demo)
    client.force_login(demo.importer)

    page = client.get("/declarations/", {"hs_code": "6907"}).content.decode()

    assert 'href="?hs_code=6907&amp;page=2"' in page


def test_list_page_query_count_does_not_grow_with_rows(demo, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(demo.exporter)

    def count_with(rows: int) -> int:
        while Declaration.objects.count() < rows:
            file(demo, user=demo.exporter, kind="summary")
        with CaptureQueriesContext(connection) as queries:
            client.get("/declarations/", {"kind": "summary"})
        return len(queries)

    assert count_with(1) == count_with(3)
