"""The system summary pack PDF for the ICB People Board: for the ICB's ICS leads only.

The same access as the comparison page (``access_icb_as_ics_lead``): another ICB is 404, a
member of one of the ICB's trusts 403. The pack is built from approved revisions alone.
"""

from __future__ import annotations

from django.http import Http404
from django.views.decorators.http import require_safe

from assessments import summary_pack
from assessments.models import Cycle
from assessments.views.comparison import access_icb_as_ics_lead
from assessments.views.reports import pdf_response


@require_safe
def summary_pack_pdf(request, ods_code):
    icb, _ = access_icb_as_ics_lead(request.user, ods_code)
    label = request.GET.get("cycle")
    cycle = None
    if label is not None:
        cycle = Cycle.objects.filter(label=label).first()
        if cycle is None:
            raise Http404
    pack = summary_pack.build_summary_pack(icb=icb, cycle=cycle)
    if pack.cycle is None:
        raise Http404
    return pdf_response(summary_pack.render_pack(pack), pack.filename)
