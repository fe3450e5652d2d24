"""The board report around the renderer: cover sheet, the stored approved PDF, downloads, the command."""

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from pypdf import PdfReader

from assessments import services
from assessments.models import AssessmentEvent, AuditAction, BoardReport, CoverSheet
from assessments.tasks import render_board_report


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def approval(complete_assessment, lead, executive, django_capture_on_commit_callbacks):
    """The complete assessment submitted and approved, with the render task run as on a real commit."""
    services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
    with django_capture_on_commit_callbacks(execute=True):
        return services.approve(
            assessment=complete_assessment,
            approved_by=executive,
            approver_name=executive.full_name,
            approver_role="Chief Nurse",
            statement="I confirm this self-assessment.",
        )


def approved_pdf_url(approval):
    return reverse("approval-report-pdf", args=[approval.assessment_id, approval.revision])


class TestCoverSheet:
    def url(self, assessment):
        return reverse("cover-sheet", args=[assessment.pk])

    def data(self, **overrides):
        return {
            "meeting": "people_committee",
            "meeting_date_day": "14",
            "meeting_date_month": "5",
            "meeting_date_year": "2027",
            "agenda_item": "7.2",
            "title": "",
            "author": "Leah Lead, Principal Social Worker",
            "lead_executive": "Chief Nurse",
            "purpose": "assurance",
            "assurance_level": "reasonable",
            "key_messages": "Supervision has improved.",
            "ask_of_the_board": "Support the AMHP business case.",
            **overrides,
        }

    def test_lead_saves_the_cover_sheet_and_it_is_audited(self, client_for, lead, assessment):
        """The lead's cover sheet is stored, and each changed field is in the history."""
        response = client_for(lead).post(self.url(assessment), self.data())
        assert response.status_code == 302
        cover = CoverSheet.objects.get(assessment=assessment)
        assert cover.meeting_date.isoformat() == "2027-05-14"
        assert cover.ask_of_the_board == "Support the AMHP business case."
        fields = set(
            AssessmentEvent.objects.filter(action=AuditAction.COVER_SHEET_CHANGED).values_list("field", flat=True)
        )
        assert {"Meeting", "Meeting date", "Ask of the board"} <= fields

    def test_bad_date_is_refused_and_typed_text_kept(self, client_for, lead, assessment):
        """An impossible date gets a specific message; everything typed stays."""
        response = client_for(lead).post(self.url(assessment), self.data(meeting_date_day="31", meeting_date_month="2"))
        content = response.content.decode()
        assert response.status_code == 200
        assert "Meeting date must be a real date" in content
        assert "Support the AMHP business case." in content
        assert not CoverSheet.objects.exists()

    @pytest.mark.parametrize("person", ["contributor", "executive", "board_reader"])
    def test_only_the_lead_writes_it(self, client_for, assessment, person, request):
        """Other trust roles get 403 (board readers cannot see the draft at all: 404)."""
        user = request.getfixturevalue(person)
        expected = 404 if person == "board_reader" else 403
        assert client_for(user).post(self.url(assessment), self.data()).status_code == expected
        assert not CoverSheet.objects.exists()

    def test_outsider_gets_404(self, client_for, outsider, assessment):
        """Another trust's lead cannot find it."""
        assert client_for(outsider).get(self.url(assessment)).status_code == 404

    def test_not_editable_once_submitted(self, client_for, lead, complete_assessment):
        """The cover sheet is approved with the rest, so it freezes on submission."""
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        assert client_for(lead).post(self.url(complete_assessment), self.data()).status_code == 403

    def test_wrong_method(self, client_for, lead, assessment):
        """Only GET and POST."""
        assert client_for(lead).put(self.url(assessment)).status_code == 405

    def test_cover_sheet_is_part_of_the_approved_snapshot(self, lead, executive, complete_assessment):
        """What the executive approves includes the board paper's own words."""
        services.save_cover_sheet(assessment=complete_assessment, edited_by=lead, key_messages="Much improved.")
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        approval = services.approve(
            assessment=complete_assessment,
            approved_by=executive,
            approver_name="E",
            approver_role="Chief Nurse",
            statement="I confirm.",
        )
        assert approval.snapshot["cover_sheet"]["key_messages"] == "Much improved."


class TestApprovedReport:
    def test_approval_renders_and_stores_the_report_once(self, approval):
        """The task ran on commit: one stored PDF with its hash and page count."""
        stored = BoardReport.objects.get(approval=approval)
        with stored.file.open("rb") as f:
            data = f.read()
        assert hashlib.sha256(data).hexdigest() == stored.sha256
        assert stored.pages == len(PdfReader(io.BytesIO(data)).pages)
        assert approval.assessment.trust.name in pdf_text(data)

    def test_task_is_idempotent(self, approval, monkeypatch):
        """Running the task again keeps the stored report and never renders a second one."""
        from assessments import report

        first = BoardReport.objects.get(approval=approval)

        def must_not_render(*args, **kwargs):
            raise AssertionError("a stored report must not be rendered again")

        monkeypatch.setattr(report, "render_pdf", must_not_render)
        assert render_board_report.call(approval.pk) == first.pk
        stored = BoardReport.objects.get()
        assert (stored.file.name, stored.sha256) == (first.file.name, first.sha256)

    def test_missing_report_is_queued_again_after_a_few_minutes(self, client_for, lead, complete_assessment, executive):
        """If the render never happened, the download queues it again, and then serves it."""
        import datetime

        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        approval = services.approve(
            assessment=complete_assessment, approved_by=executive, approver_name="E", approver_role="R", statement="S"
        )
        approval.approved_at -= datetime.timedelta(minutes=10)
        approval.save(update_fields=["approved_at"])
        client = client_for(lead)
        assert client.get(approved_pdf_url(approval)).status_code == 503  # queued now (and run at once in tests)
        assert BoardReport.objects.filter(approval=approval).exists()
        assert client.get(approved_pdf_url(approval)).status_code == 200

    @pytest.mark.parametrize("person", ["lead", "contributor", "executive", "board_reader", "ics_lead"])
    def test_download_is_byte_for_byte_the_stored_file(self, client_for, approval, person, request):
        """Everyone who may read the approval gets exactly the stored bytes, every time."""
        stored = BoardReport.objects.get(approval=approval)
        client = client_for(request.getfixturevalue(person))
        first = client.get(approved_pdf_url(approval))
        second = client.get(approved_pdf_url(approval))
        assert first.status_code == 200
        assert first["Content-Type"] == "application/pdf"
        assert first["Content-Disposition"].startswith("attachment;")
        assert hashlib.sha256(first.content).hexdigest() == stored.sha256
        assert first.content == second.content

    def test_outsider_gets_404(self, client_for, outsider, approval):
        """Another trust cannot download it."""
        assert client_for(outsider).get(approved_pdf_url(approval)).status_code == 404

    def test_report_stays_identical_after_live_changes(self, client_for, lead, executive, approval):
        """Reopening and changing answers leaves the approved PDF byte for byte the same."""
        before = client_for(lead).get(approved_pdf_url(approval)).content
        assessment = services.reopen(assessment=approval.assessment, reopened_by=lead, reason="Fix a figure")
        response = assessment.responses.first()
        services.save_response(
            response=response,
            expected_version=response.version,
            edited_by=lead,
            rating=assessment.framework.rating_levels.get(value=1),
            rationale="Changed after approval.",
            strengths="",
            gaps_and_risks="",
            ready=False,
        )
        assert client_for(lead).get(approved_pdf_url(approval)).content == before

    def test_missing_report_says_it_is_being_prepared(self, client_for, lead, complete_assessment, executive):
        """Before the worker has run, the download explains and offers the web page."""
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        approval = services.approve(
            assessment=complete_assessment, approved_by=executive, approver_name="E", approver_role="R", statement="S"
        )
        response = client_for(lead).get(approved_pdf_url(approval))
        assert response.status_code == 503
        assert "being prepared" in response.content.decode()

    def test_approved_preview_shows_the_report(self, client_for, board_reader, approval):
        """Board readers can read the approved report as a web page."""
        url = reverse("approval-report-preview", args=[approval.assessment_id, approval.revision])
        response = client_for(board_reader).get(url)
        assert response.status_code == 200
        assert approval.assessment.trust.name in response.content.decode()


@pytest.fixture
def without_report_fonts(settings):
    """The compiled static files (fonts among them) are missing, as on a machine that skipped npm run build."""
    settings.STATICFILES_DIRS = [settings.BASE_DIR / "static"]


class TestDraftReport:
    def test_render_failure_is_explained_not_a_server_error(
        self, client_for, lead, complete_assessment, without_report_fonts
    ):
        """If the PDF cannot be made, the person gets a clear page and a way to read the report."""
        response = client_for(lead).get(reverse("board-report-draft-pdf", args=[complete_assessment.pk]))
        assert response.status_code == 503
        assert "could not produce the PDF" in response.content.decode()

    def test_draft_pdf_is_marked_draft(self, client_for, contributor, complete_assessment):
        """Anyone working on the assessment can download a draft, marked DRAFT."""
        response = client_for(contributor).get(reverse("board-report-draft-pdf", args=[complete_assessment.pk]))
        assert response.status_code == 200
        assert "DRAFT" in pdf_text(response.content)

    @pytest.mark.parametrize("person", ["board_reader", "ics_lead", "outsider"])
    def test_drafts_are_not_for_board_readers_ics_leads_or_outsiders(self, client_for, assessment, person, request):
        """Only approved reports leave the trust's working group."""
        client = client_for(request.getfixturevalue(person))
        assert client.get(reverse("board-report-draft-pdf", args=[assessment.pk])).status_code == 404
        assert client.get(reverse("board-report-preview", args=[assessment.pk])).status_code == 404

    def test_preview_renders_for_the_lead(self, client_for, lead, assessment):
        """The HTML preview of the live assessment."""
        response = client_for(lead).get(reverse("board-report-preview", args=[assessment.pk]))
        assert response.status_code == 200
        assert assessment.trust.name in response.content.decode()

    def test_post_not_allowed(self, client_for, lead, assessment):
        """Reports are read-only."""
        assert client_for(lead).post(reverse("board-report-draft-pdf", args=[assessment.pk])).status_code == 405


class TestCommand:
    def test_writes_the_stored_approved_report(self, approval, tmp_path):
        """The batch command writes exactly the stored approved PDF."""
        output = tmp_path / "report.pdf"
        call_command("board_report", approval.assessment.trust.ods_code, "2026/27", output=output)
        assert hashlib.sha256(output.read_bytes()).hexdigest() == BoardReport.objects.get(approval=approval).sha256

    def test_draft_option_writes_a_draft(self, assessment, tmp_path):
        """--draft renders the live assessment with the DRAFT mark."""
        output = tmp_path / "draft.pdf"
        call_command("board_report", assessment.trust.ods_code, "2026/27", output=output, draft=True)
        assert "DRAFT" in pdf_text(output.read_bytes())

    def test_unapproved_without_draft_is_an_error(self, assessment, tmp_path):
        """It says what to do instead."""
        with pytest.raises(CommandError, match="use --draft"):
            call_command("board_report", assessment.trust.ods_code, "2026/27", output=tmp_path / "x.pdf")

    def test_render_failure_is_a_clear_error(self, assessment, tmp_path, without_report_fonts):
        """A failed render is reported as a command error, not a traceback."""
        with pytest.raises(CommandError, match="Could not render the report"):
            call_command("board_report", assessment.trust.ods_code, "2026/27", output=tmp_path / "x.pdf", draft=True)

    def test_unknown_trust_is_an_error(self, db, tmp_path):
        """A clear message for a code with no assessment."""
        with pytest.raises(CommandError, match="No assessment for trust XYZ"):
            call_command("board_report", "xyz", "2026/27", output=tmp_path / "x.pdf")
