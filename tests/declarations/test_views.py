from declarations.models import Declaration
from inspection import assessment
from port.models import Container
from tests.conftest import MEAT_ITEM


def form_data(demo, **overrides) -> dict:
    item = {**MEAT_ITEM, **overrides.pop("item", {})}
    data = {
        "enterprise": demo.importer_org.pk,
        "port_call": demo.port_call.pk,
        "bl_number": "COSU6401234560",
        "containers": "COSU6123451\nCSNU8011228",
        "idempotency_key": "form-1",
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "1",
        "items-MAX_NUM_FORMS": "99",
        **{f"items-0-{field}": value for field, value in item.items()},
    }
    data.update(overrides)
    return data


def test_filing_in_the_browser_redirects_to_the_declaration(demo, client):
    client.force_login(demo.importer)

    response = client.post("/declarations/new/", form_data(demo))

    declaration = Declaration.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/declarations/{declaration.pk}/"
    assert declaration.status == Declaration.Status.SUBMITTED
    page = client.get(response["Location"]).content.decode()
    assert declaration.number in page
    assert 'data-status="submitted"' in page
    assert f'data-live-subscribe="declaration:{declaration.pk}"' in page


def test_a_double_submitted_form_files_once(demo, client):
    client.force_login(demo.importer)

    first = client.post("/declarations/new/", form_data(demo))
    second = client.post("/declarations/new/", form_data(demo))

    assert first["Location"] == second["Location"]
    assert Declaration.objects.count() == 1


def test_bad_input_shows_field_errors_in_the_page_and_writes_nothing(demo, client):
    client.force_login(demo.importer)

    response = client.post(
        "/declarations/new/",
        form_data(demo, containers="COSU6123452", item={"hs_code": "0202300"}, bl_number="?"),
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "COSU6123452: the check digit is wrong (ISO 6346)." in page
    assert "A commodity code has exactly 10 digits." in page
    assert "A B/L number has 4 to 35 letters, digits, - or /." in page
    assert Declaration.objects.exists() is False
    assert Container.objects.exists() is False


def test_a_missing_field_is_named_in_the_page(demo, client):
    client.force_login(demo.importer)

    response = client.post("/declarations/new/", form_data(demo, bl_number=""))

    assert 'id="id_bl_number-errors"' in response.content.decode()
    assert Declaration.objects.exists() is False


def test_another_enterprise_gets_404_for_the_page_and_never_sees_it_listed(demo, client):
    client.force_login(demo.importer)
    client.post("/declarations/new/", form_data(demo))
    declaration = Declaration.objects.get()
    client.force_login(demo.exporter)

    assert client.get(f"/declarations/{declaration.pk}/").status_code == 404
    assert declaration.number not in client.get("/declarations/").content.decode()


def test_the_form_offers_only_enterprises_the_user_may_file_for(demo, client):
    client.force_login(demo.exporter)

    page = client.get("/declarations/new/").content.decode()

    assert demo.exporter_org.name in page
    assert demo.importer_org.name not in page


def test_the_list_shows_an_empty_state_before_the_first_filing(demo, client):
    client.force_login(demo.importer)

    page = client.get("/declarations/").content.decode()

    assert "No declarations yet" in page


def test_the_officer_queue_lists_selected_containers_of_its_office_only(demo, client, api_for):

    created = (
        api_for(demo.importer)
        .post(
            "/api/v1/declarations/",
            {**form_to_api(demo), "items": [MEAT_ITEM]},
            format="json",
        )
        .json()
    )
    assessment.assess_declarations(declaration_ids=[created["id"]])
    client.force_login(demo.officer)

    page = client.get("/inspection/queue/").content.decode()

    assert 'data-container="COSU6123451"' in page
    assert 'data-container="CSNU8011228"' in page
    client.force_login(demo.importer)
    assert 'data-container="COSU6123451"' not in client.get("/inspection/queue/").content.decode()


def form_to_api(demo) -> dict:
    return {
        "port_call": demo.port_call.pk,
        "bl_number": "COSU6401234560",
        "containers": ["COSU6123451", "CSNU8011228"],
    }


def test_every_error_of_a_form_shows_in_one_round(demo, client):
    client.force_login(demo.importer)

    response = client.post(
        "/declarations/new/",
        form_data(
            demo,
            bl_number="",
            containers="COSU6123452",
            item={"description": "", "hs_code": "02023"},
        ),
    )

    page = response.content.decode()
    assert 'id="id_bl_number-errors"' in page
    assert "COSU6123452: the check digit is wrong (ISO 6346)." in page
    assert "A commodity code has exactly 10 digits." in page
    assert 'id="id_items-0-description-errors"' in page
    assert Declaration.objects.exists() is False
