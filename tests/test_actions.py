"""The improvement plan: listing actions with derived status, adding, changing and removing them."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import services
from assessments.models import Action, ActionStatus, AuditAction


def list_url(assessment):
    return reverse("action-list", args=[assessment.pk])


def add_url(assessment):
    return reverse("action-add", args=[assessment.pk])


def edit_url(action):
    return reverse("action-edit", args=[action.assessment_id, action.pk])


def remove_url(action):
    return reverse("action-remove", args=[action.assessment_id, action.pk])


def requirement_pks(assessment, *codes):
    return [str(pk) for pk in assessment.framework.requirements.filter(code__in=codes).values_list("pk", flat=True)]


def add_action(assessment, user, title="Audit supervision", codes=("R3",), **changes):
    values = {
        "title": title,
        "requirements": list(assessment.framework.requirements.filter(code__in=codes)),
        "owner": "Principal social worker",
        "due_date": datetime.date(2030, 3, 31),
        "status": ActionStatus.NOT_STARTED,
        "progress_notes": "",
    }
    values.update(changes)
    return services.save_action(assessment=assessment, edited_by=user, **values)


def form_data(assessment, **changes):
    data = {
        "title": "Train supervisors",
        "requirements": requirement_pks(assessment, "R3", "R4"),
        "owner": "Head of learning",
        "due_date_day": "31",
        "due_date_month": "3",
        "due_date_year": "2030",
        "status": "in_progress",
        "progress_notes": "Course booked",
    }
    data.update(changes)
    return data


class TestList:
    def test_lead_sees_each_action_with_requirements_owner_date_and_status(self, client_for, lead, assessment):
        """Statuses are tags with their text: Overdue (red), In progress (yellow), Complete (blue), Not started."""
        past = datetime.date.today() - datetime.timedelta(days=3)
        add_action(assessment, lead, "Late one", codes=("R1", "R3"), due_date=past, status=ActionStatus.IN_PROGRESS)
        add_action(assessment, lead, "Going", status=ActionStatus.IN_PROGRESS)
        add_action(assessment, lead, "Done", due_date=past, status=ActionStatus.COMPLETE)
        add_action(assessment, lead, "Waiting")
        page = client_for(lead).get(list_url(assessment))
        assert page.status_code == 200
        content = page.content.decode()
        assert '<strong class="nhsuk-tag nhsuk-tag--red">Overdue</strong>' in content
        assert '<strong class="nhsuk-tag nhsuk-tag--yellow">In progress</strong>' in content
        assert '<strong class="nhsuk-tag nhsuk-tag--blue">Complete</strong>' in content
        assert '<strong class="nhsuk-tag nhsuk-tag--grey">Not started</strong>' in content
        assert "R1, R3" in content
        assert "Add an action" in content
        assert "Remove<span" in content

    def test_contributor_can_change_but_not_remove(self, client_for, lead, contributor, assessment):
        """Contributors add and change actions; only the lead removes them."""
        add_action(assessment, lead)
        content = client_for(contributor).get(list_url(assessment)).content.decode()
        assert "Add an action" in content
        assert "Change<span" in content
        assert "Remove<span" not in content

    def test_executive_reads_without_links_to_change(self, client_for, lead, executive, assessment):
        """The executive sponsor reads the plan."""
        add_action(assessment, lead)
        content = client_for(executive).get(list_url(assessment)).content.decode()
        assert "Audit supervision" in content
        assert "Add an action" not in content
        assert "Change<span" not in content

    @pytest.mark.parametrize("person", ["board_reader", "ics_lead"])
    def test_drafts_are_hidden_from_board_readers_and_ics_leads(self, client_for, assessment, person, request):
        """The plan of a draft is not visible to them: 404."""
        assert client_for(request.getfixturevalue(person)).get(list_url(assessment)).status_code == 404

    def test_outsider_gets_404(self, client_for, outsider, assessment):
        """Another trust's lead gets 404."""
        assert client_for(outsider).get(list_url(assessment)).status_code == 404

    def test_post_is_405(self, client_for, lead, assessment):
        """The list only reads."""
        assert client_for(lead).post(list_url(assessment)).status_code == 405

    def test_queries_do_not_grow_with_actions(self, client_for, lead, assessment, django_assert_num_queries):
        """The plan costs the same number of queries with one action or many."""
        client = client_for(lead)
        add_action(assessment, lead, "First", codes=("R1", "R2"))
        with CaptureQueriesContext(connection) as few:
            client.get(list_url(assessment))
        for n in range(8):
            add_action(assessment, lead, f"Action {n}", codes=("R3", "R4", "R5"))
        with django_assert_num_queries(len(few)):
            page = client.get(list_url(assessment))
        assert "Action 7" in page.content.decode()


class TestAdd:
    def test_lead_adds_an_action(self, client_for, lead, assessment):
        """The action is saved with its requirements and the lead returns to the plan."""
        page = client_for(lead).post(add_url(assessment), form_data(assessment))
        assert page.status_code == 302
        assert page["Location"] == list_url(assessment)
        action = Action.objects.get()
        assert (action.title, action.owner, action.due_date) == (
            "Train supervisors",
            "Head of learning",
            datetime.date(2030, 3, 31),
        )
        assert action.status == ActionStatus.IN_PROGRESS
        assert sorted(r.code for r in action.requirements.all()) == ["R3", "R4"]
        assert assessment.events.filter(action=AuditAction.ACTION_ADDED).exists()

    def test_contributor_adds_an_action(self, client_for, contributor, assessment):
        """Contributors can add to the plan."""
        assert client_for(contributor).post(add_url(assessment), form_data(assessment)).status_code == 302
        assert Action.objects.count() == 1

    def test_from_a_requirement_it_is_preselected_and_returns_there(self, client_for, lead, assessment):
        """'Add an action for R3' ticks R3 and goes back to R3 after saving."""
        client = client_for(lead)
        page = client.get(f"{add_url(assessment)}?requirement=R3")
        r3 = requirement_pks(assessment, "R3")[0]
        assert f'value="{r3}" id="id_requirements_2" class="nhsuk-checkboxes__input" checked' in page.content.decode()
        saved = client.post(f"{add_url(assessment)}?requirement=R3", form_data(assessment))
        assert saved["Location"] == reverse("response-edit", args=[assessment.pk, "R3"])

    def test_missing_answers_are_named_and_typed_text_kept(self, client_for, lead, assessment):
        """Each missing answer gets an NHS.UK message; what was typed stays."""
        page = client_for(lead).post(
            add_url(assessment),
            form_data(assessment, title="", requirements=[], status="", due_date_day="", due_date_month=""),
        )
        assert page.status_code == 200
        content = page.content.decode()
        assert "Enter the action" in content
        assert "Select at least one requirement" in content
        assert "Select the action&#x27;s status" in content
        assert "Due date must include a day and a month" in content
        assert 'value="Head of learning"' in content
        assert "Course booked</textarea>" in content
        assert 'name="due_date_year" value="2030"' in content
        assert not Action.objects.exists()

    @pytest.mark.parametrize(
        ("day", "month", "year", "message"),
        [
            ("31", "2", "2030", "Due date must be a real date"),
            ("1", "13", "2030", "Due date must be a real date"),
            ("1", "2", "30", "Year must include 4 numbers"),
            ("first", "2", "2030", "Due date must be a real date"),
        ],
    )
    def test_impossible_dates_are_refused(self, client_for, lead, assessment, day, month, year, message):
        """Dates are checked the NHS.UK way."""
        data = form_data(assessment, due_date_day=day, due_date_month=month, due_date_year=year)
        content = client_for(lead).post(add_url(assessment), data).content.decode()
        assert message in content
        assert not Action.objects.exists()

    def test_executive_is_forbidden(self, client_for, executive, assessment):
        """The executive sponsor does not write the plan."""
        assert client_for(executive).get(add_url(assessment)).status_code == 403
        assert client_for(executive).post(add_url(assessment), form_data(assessment)).status_code == 403

    def test_outsider_gets_404(self, client_for, outsider, assessment):
        """Another trust's lead gets 404."""
        assert client_for(outsider).post(add_url(assessment), form_data(assessment)).status_code == 404

    def test_wrong_method_is_405(self, client_for, lead, assessment):
        """Only GET and POST."""
        assert client_for(lead).put(add_url(assessment)).status_code == 405

    def test_not_while_awaiting_sign_off(self, client_for, lead, complete_assessment):
        """Once submitted, the plan cannot change: 403 with a reason."""
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        page = client_for(lead).post(add_url(complete_assessment), form_data(complete_assessment))
        assert page.status_code == 403
        assert "This assessment cannot be changed" in page.content.decode()
        assert not Action.objects.exists()


class TestEdit:
    def test_form_shows_the_saved_action(self, client_for, lead, assessment):
        """The edit form starts from what is saved, including the date parts."""
        action = add_action(assessment, lead, progress_notes="Started")
        content = client_for(lead).get(edit_url(action)).content.decode()
        assert 'value="Audit supervision"' in content
        assert 'name="due_date_day" value="31"' in content
        assert 'name="due_date_year" value="2030"' in content
        assert "Started</textarea>" in content

    def test_contributor_changes_the_status(self, client_for, lead, contributor, assessment):
        """A change is saved and audited field by field."""
        action = add_action(assessment, lead)
        data = form_data(assessment, title="Audit supervision", status="complete")
        assert client_for(contributor).post(edit_url(action), data).status_code == 302
        action.refresh_from_db()
        assert action.status == ActionStatus.COMPLETE
        assert assessment.events.filter(action=AuditAction.ACTION_CHANGED, field="Status").exists()

    def test_saving_a_carried_forward_action_clears_its_mark(self, client_for, lead, assessment):
        """Saving reviews a carried-forward action."""
        action = add_action(assessment, lead)
        Action.objects.filter(pk=action.pk).update(carried_forward=True)
        client = client_for(lead)
        assert "carried forward from last year" in client.get(edit_url(action)).content.decode()
        client.post(edit_url(action), form_data(assessment))
        action.refresh_from_db()
        assert not action.carried_forward

    def test_invalid_change_keeps_typed_text(self, client_for, lead, assessment):
        """An error leaves the rest of what was typed in the form and changes nothing."""
        action = add_action(assessment, lead)
        page = client_for(lead).post(edit_url(action), form_data(assessment, owner="", progress_notes="New notes"))
        assert page.status_code == 200
        assert "Enter who owns the action" in page.content.decode()
        assert "New notes</textarea>" in page.content.decode()
        action.refresh_from_db()
        assert action.owner == "Principal social worker"

    def test_action_of_another_assessment_is_404(self, client_for, lead, assessment, outsider, other_trust, cycle):
        """Action ids are looked up within the assessment in the address."""
        theirs = services.start_assessment(trust=other_trust, cycle=cycle, started_by=outsider, carry_forward=False)
        their_action = add_action(theirs, outsider)
        url = reverse("action-edit", args=[assessment.pk, their_action.pk])
        assert client_for(lead).get(url).status_code == 404

    def test_executive_is_forbidden(self, client_for, lead, executive, assessment):
        """Only the lead and contributors change actions."""
        action = add_action(assessment, lead)
        assert client_for(executive).get(edit_url(action)).status_code == 403

    def test_outsider_gets_404(self, client_for, lead, outsider, assessment):
        """Another trust's lead gets 404."""
        action = add_action(assessment, lead)
        assert client_for(outsider).get(edit_url(action)).status_code == 404

    def test_wrong_method_is_405(self, client_for, lead, assessment):
        """Only GET and POST."""
        action = add_action(assessment, lead)
        assert client_for(lead).delete(edit_url(action)).status_code == 405


class TestRemove:
    def test_lead_confirms_then_removes(self, client_for, lead, assessment):
        """A confirmation page first; the POST removes the action and audits it."""
        action = add_action(assessment, lead)
        client = client_for(lead)
        confirm = client.get(remove_url(action))
        assert confirm.status_code == 200
        assert "Remove this action?" in confirm.content.decode()
        page = client.post(remove_url(action))
        assert page.status_code == 302
        assert not Action.objects.exists()
        assert assessment.events.filter(action=AuditAction.ACTION_REMOVED, subject="Audit supervision").exists()

    def test_contributor_is_forbidden(self, client_for, lead, contributor, assessment):
        """Only the lead removes actions."""
        action = add_action(assessment, lead)
        assert client_for(contributor).post(remove_url(action)).status_code == 403
        assert Action.objects.exists()

    def test_outsider_gets_404(self, client_for, lead, outsider, assessment):
        """Another trust's lead gets 404."""
        action = add_action(assessment, lead)
        assert client_for(outsider).post(remove_url(action)).status_code == 404

    def test_wrong_method_is_405(self, client_for, lead, assessment):
        """Only GET and POST."""
        action = add_action(assessment, lead)
        assert client_for(lead).put(remove_url(action)).status_code == 405

    def test_not_after_submission(self, client_for, lead, complete_assessment):
        """A submitted plan keeps its actions."""
        action = add_action(complete_assessment, lead)
        services.submit_for_sign_off(assessment=complete_assessment, submitted_by=lead)
        assert client_for(lead).post(remove_url(action)).status_code == 403
        assert Action.objects.exists()
