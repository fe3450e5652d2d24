"""What was approved never changes, whatever happens to the evidence library or the live assessment."""

import datetime
import json
from decimal import Decimal

import pytest

from assessments import services
from assessments.models import Approval, EvidenceItem, EvidenceKind, EvidenceVersion


def add_version(item, number, uploader):
    return EvidenceVersion.objects.create(
        item=item,
        number=number,
        file=f"evidence/{item.trust_id}/{number:032x}.pdf",
        original_name=f"supervision-audit-v{number}.pdf",
        content_type="application/pdf",
        size=1000 + number,
        sha256=f"{number:064x}",
        confirmed_no_patient_data=True,
        uploaded_by=uploader,
    )


def frozen(approval):
    """The stored snapshot as canonical JSON text, read back from the database."""
    stored = Approval.objects.get(pk=approval.pk)
    return json.dumps(stored.snapshot, sort_keys=True), stored.content_hash


@pytest.fixture
def evidence(trust, lead):
    document = EvidenceItem.objects.create(
        trust=trust,
        kind=EvidenceKind.FILE,
        title="Supervision audit 2025",
        evidence_date=datetime.date(2025, 11, 30),
        owner="Principal social worker",
        created_by=lead,
    )
    add_version(document, 1, lead)
    link = EvidenceItem.objects.create(
        trust=trust,
        kind=EvidenceKind.LINK,
        title="Section 75 agreement",
        evidence_date=datetime.date(2024, 4, 1),
        owner="Director of social care",
        url="https://intranet.example.nhs.uk/s75",
        created_by=lead,
    )
    return document, link


@pytest.fixture
def approval(complete_assessment, lead, executive, evidence):
    """Approved revision 1, with evidence, workforce figures and an action."""
    assessment = complete_assessment
    document, link = evidence
    responses = {r.requirement.code: r for r in assessment.responses.select_related("requirement")}
    services.link_evidence(response=responses["R3"], item=document, linked_by=lead)
    services.link_evidence(response=responses["R6"], item=link, linked_by=lead)
    vacancy = assessment.framework.indicators.get(code="vacancy_rate")
    services.save_indicator_values(
        assessment=assessment, values={vacancy.pk: (Decimal("5"), Decimal("40"))}, edited_by=lead
    )
    services.save_action(
        assessment=assessment,
        edited_by=lead,
        title="Audit AMHP supervision quarterly",
        requirements=[responses["R3"].requirement],
        owner="AMHP lead",
        due_date=datetime.date(2026, 9, 30),
        status="in_progress",
    )
    services.submit_for_sign_off(assessment=assessment, submitted_by=lead)
    return services.approve(
        assessment=assessment,
        approved_by=executive,
        approver_name="Esther Executive",
        approver_role="Chief Nurse",
        statement="I confirm this statement.",
    )


def test_snapshot_records_exactly_what_was_approved(approval):
    """Every response, rating, figure, action and the exact evidence version are in the snapshot."""
    snapshot = Approval.objects.get(pk=approval.pk).snapshot
    responses = {r["code"]: r for r in snapshot["responses"]}
    assert len(responses) == approval.assessment.responses.count()
    assert responses["R3"]["rating"] == {"value": 3, "label": "Largely met"}
    assert responses["R3"]["evidence"][0] | {"item_id": None} == {
        "item_id": None,
        "title": "Supervision audit 2025",
        "kind": "file",
        "date": "2025-11-30",
        "owner": "Principal social worker",
        "url": None,
        "version": 1,
        "version_id": EvidenceVersion.objects.get(number=1).pk,
        "file_name": "supervision-audit-v1.pdf",
        "sha256": f"{1:064x}",
    }
    assert responses["R6"]["evidence"][0]["url"] == "https://intranet.example.nhs.uk/s75"
    vacancy = next(i for i in snapshot["indicators"] if i["code"] == "vacancy_rate")
    assert (vacancy["numerator"], vacancy["denominator"]) == ("5", "40")
    assert snapshot["actions"] == [
        {
            "title": "Audit AMHP supervision quarterly",
            "requirements": ["R3"],
            "owner": "AMHP lead",
            "due_date": "2026-09-30",
            "status": "in_progress",
            "progress_notes": "",
        }
    ]


def test_approved_snapshot_never_changes(approval, evidence, lead):
    """Changing the evidence library and the live assessment leaves the approved snapshot byte for byte the same."""
    before_json, before_hash = frozen(approval)
    assert before_hash == services.content_hash(json.loads(before_json))
    document, link = evidence
    assessment = approval.assessment

    # The evidence library moves on.
    add_version(document, 2, lead)
    document.title = "Supervision audit 2026 (renamed)"
    document.evidence_date = datetime.date(2026, 5, 1)
    document.save()
    link.url = "https://intranet.example.nhs.uk/s75-renewed"
    link.save()

    # The live assessment is reopened and edited.
    services.reopen(assessment=assessment, reopened_by=lead, reason="Correct R3")
    assessment.refresh_from_db()
    r3 = assessment.responses.select_related("requirement").get(requirement__code="R3")
    services.save_response(
        response=r3,
        expected_version=r3.version,
        edited_by=lead,
        rating=assessment.framework.rating_levels.get(value=1),
        rationale="On reflection, supervision is not happening.",
        strengths="",
        gaps_and_risks="Most AMHPs have no supervision.",
        ready=True,
    )
    services.unlink_evidence(response=r3, item=document, unlinked_by=lead)
    action = assessment.actions.get()
    services.save_action(
        assessment=assessment,
        action=action,
        edited_by=lead,
        title="Audit AMHP supervision monthly",
        requirements=[],
        owner="Someone else",
        due_date=datetime.date(2027, 1, 31),
        status="complete",
    )
    vacancy = assessment.framework.indicators.get(code="vacancy_rate")
    services.save_indicator_values(
        assessment=assessment, values={vacancy.pk: (Decimal("9"), Decimal("41"))}, edited_by=lead
    )

    after_json, after_hash = frozen(approval)
    assert after_json == before_json
    assert after_hash == before_hash
    assert services.content_hash(json.loads(after_json)) == before_hash
    assert "Supervision audit 2025" in after_json
    assert "renamed" not in after_json
    assert "not happening" not in after_json


def test_new_approval_picks_up_the_new_evidence_version(approval, evidence, lead, executive):
    """Revision 2's snapshot records the evidence version current when it was approved; revision 1 keeps version 1."""
    document, _ = evidence
    assessment = approval.assessment
    before_json, _ = frozen(approval)
    services.reopen(assessment=assessment, reopened_by=lead, reason="New audit")
    add_version(document, 2, lead)
    services.submit_for_sign_off(assessment=assessment, submitted_by=lead)
    second = services.approve(
        assessment=assessment,
        approved_by=executive,
        approver_name="Esther Executive",
        approver_role="Chief Nurse",
        statement="I confirm this statement.",
    )

    def r3_versions(snapshot):
        return [e["version"] for r in snapshot["responses"] if r["code"] == "R3" for e in r["evidence"]]

    assert r3_versions(Approval.objects.get(pk=second.pk).snapshot) == [2]
    assert r3_versions(Approval.objects.get(pk=approval.pk).snapshot) == [1]
    assert frozen(approval)[0] == before_json
    assert second.content_hash != approval.content_hash
