"""portal.prepared: a query compiled once gives what the QuerySet gives, with each call's own values."""

import pytest

from assessments.models import Cycle
from portal.models import ICB, ICBRole
from portal.prepared import Prepared
from tests.factories import ICBFactory, ICBMembershipFactory, UserFactory

LED = Prepared(
    lambda user_id: ICB.objects.filter(memberships__user_id=user_id, memberships__role=ICBRole.ICS_LEAD).order_by(
        "name"
    )
)


@pytest.mark.django_db
def test_each_call_fills_in_its_own_values(region):
    """The same prepared query gives each person their own ICBs, in the QuerySet's order."""
    first, second = UserFactory(), UserFactory()
    b, a = ICBFactory(name="B ICB", region=region), ICBFactory(name="A ICB", region=region)
    c = ICBFactory(region=region)
    for icb in (b, a):
        ICBMembershipFactory(user=first, icb=icb)
    ICBMembershipFactory(user=second, icb=c)
    assert [icb.name for icb in LED.objects(user_id=first.pk)] == ["A ICB", "B ICB"]
    assert list(LED.objects(user_id=second.pk)) == [c]
    expected = ICB.objects.filter(memberships__user=first, memberships__role=ICBRole.ICS_LEAD).order_by("name")
    assert list(LED.objects(user_id=first.pk)) == list(expected)


@pytest.mark.django_db
def test_rows_are_the_values_list_rows(cycle, previous_cycle):
    """A ``values_list`` query's rows, as the database returns them."""
    columns = ("pk", "label", "snapshot_date", "submission_deadline")
    cycles = Prepared(lambda: Cycle.objects.order_by("-label").values_list(*columns))
    assert cycles.rows() == list(Cycle.objects.order_by("-label").values_list(*columns))


def test_a_value_the_query_does_not_use_is_refused():
    """A parameter that never reaches the SQL would be silently ignored: it is an error instead."""
    unused = Prepared(lambda user_id: Cycle.objects.order_by("label"))
    with pytest.raises(ValueError, match="does not use user_id"):
        unused.rows(user_id=1)


@pytest.mark.django_db
def test_wrong_or_missing_values_are_refused():
    """Every value must be given, and no other."""
    with pytest.raises(TypeError, match="Give exactly user_id"):
        list(LED.objects())
    with pytest.raises(TypeError, match="Give exactly user_id"):
        list(LED.objects(user_id=1, icb_id=2))
