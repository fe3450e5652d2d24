"""Queries written with the ORM but compiled once per process: for the busiest pages' fixed queries.

Turning a QuerySet into SQL costs a few tenths of a millisecond of CPU every time, often more than
running it: on a page served from a cache, most of its cost. A ``Prepared`` query is built once
with stand-in values for its parameters, and from then on its SQL is run with the real values
through ``Model.objects.raw`` (model instances) or a cursor (rows, for ``values_list`` queries).

    LED_ICBS = Prepared(lambda user_id: ICB.objects.filter(memberships__user_id=user_id).order_by("name"))
    icbs = list(LED_ICBS.objects(user_id=request.user.pk))

Only for queries whose shape never changes: no ``select_related`` (``raw`` cannot follow it), no
optional filters, and no value worked out inside ``build`` (such as today's date: it would be
kept from the first call). The parameters are ids: the stand-ins are integers no id takes, and a
parameter the compiled SQL does not use is refused. The SQL is compiled for the database of the
first call, as the portal has one. ``rows`` gives what the database driver gives, without the
model fields' conversions, which is enough for comparing rows (as a cache key does).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from django.db import connection
from django.db.models import QuerySet

# Stand-ins for the parameters while the query is compiled: values no real parameter takes.
_STAND_IN_BASE = -(2**31) + 7


class Prepared:
    def __init__(self, build: Callable[..., QuerySet]):
        self.build = build
        self.names = list(inspect.signature(build).parameters)
        self._compiled: tuple[QuerySet, str, list] | None = None

    def _compile(self) -> tuple[QuerySet, str, list]:
        if self._compiled is None:
            stand_ins = {name: _STAND_IN_BASE + n for n, name in enumerate(self.names)}
            queryset = self.build(**stand_ins)
            sql, params = queryset.query.sql_with_params()
            by_value = {value: name for name, value in stand_ins.items()}
            # Each parameter is either a stand-in (filled in on every call) or a constant of the query.
            slots = [(True, by_value[p]) if isinstance(p, int) and p in by_value else (False, p) for p in params]
            missing = set(self.names) - {name for is_name, name in slots if is_name}
            if missing:
                raise ValueError(f"The query does not use {', '.join(sorted(missing))}: nothing to fill in")
            self._compiled = (queryset, sql, slots)
        return self._compiled

    def _params(self, values: dict, slots: list) -> list:
        if set(values) != set(self.names):
            raise TypeError(f"Give exactly {', '.join(self.names) or 'no values'}, not {', '.join(values)}")
        return [values[item] if is_name else item for is_name, item in slots]

    def objects(self, **values):
        """The query's model instances, as ``Model.objects.raw`` gives them."""
        queryset, sql, slots = self._compile()
        return queryset.model.objects.raw(sql, self._params(values, slots))

    def rows(self, **values) -> list[tuple]:
        """The query's rows as tuples, for a ``values_list`` query."""
        _, sql, slots = self._compile()
        with connection.cursor() as cursor:
            cursor.execute(sql, self._params(values, slots))
            return cursor.fetchall()
