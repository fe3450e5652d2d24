"""Platform administrators create cycles and set their deadlines in the admin."""

from django.urls import reverse

from assessments.models import Cycle


def test_administrator_creates_a_cycle_with_its_deadline(client_for, administrator):
    """The cycle and its deadline are set by the platform administrator."""
    response = client_for(administrator).post(
        reverse("admin:assessments_cycle_add"),
        {"label": "2027/28", "snapshot_date": "2027-03-31", "submission_deadline": "2027-06-30"},
    )
    assert response.status_code == 302
    assert Cycle.objects.get(label="2027/28").submission_deadline.isoformat() == "2027-06-30"


def test_cycle_in_use_cannot_be_deleted_or_relabelled(client_for, administrator, assessment):
    """A cycle with assessments keeps its label and cannot be deleted."""
    client = client_for(administrator)
    change = client.get(reverse("admin:assessments_cycle_change", args=[assessment.cycle.pk])).content.decode()
    assert 'name="label"' not in change
    delete = client.post(reverse("admin:assessments_cycle_delete", args=[assessment.cycle.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert Cycle.objects.filter(pk=assessment.cycle.pk).exists()


def test_trust_people_cannot_use_the_admin(client_for, lead):
    """Only staff reach the admin."""
    response = client_for(lead).get(reverse("admin:assessments_cycle_changelist"))
    assert response.status_code == 302
