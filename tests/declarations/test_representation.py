"""port.representation: a compiled output serializer answers exactly as DRF does."""

from declarations import api, queries
from inspection import assessment
from tests.declarations.factories import MEAT_ITEM, file


def _drf(declaration) -> dict:
    return api.DeclarationDetailSerializer(declaration).data


def test_a_filed_declaration_answered_from_what_was_written_is_drfs_answer(demo):
    declaration = file(demo, items=[MEAT_ITEM, MEAT_ITEM])  # lines in its prefetch cache

    assert api.detail_representation(declaration) == _drf(declaration)


def test_a_declaration_read_back_with_decisions_and_a_draft_are_drfs_answers(demo):
    decided = file(demo, items=[MEAT_ITEM])
    assessment.assess_declarations(declaration_ids=[decided.pk])
    draft = file(demo, submit=False, bl_number="DRAFT-1")
    for pk in (decided.pk, draft.pk):
        declaration = (
            queries.declaration_list(user=demo.importer)
            .prefetch_related("items", "decisions__container")
            .get(pk=pk)
        )
        answer = api.detail_representation(declaration)

        assert answer == _drf(declaration)
        assert answer["items"]
        assert pk == draft.pk or answer["decisions"]
