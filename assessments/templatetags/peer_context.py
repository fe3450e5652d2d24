"""``{% peer_context assessment=... %}``: the trust's ratings against its ICB and national medians.

Shown only to members of the trust (never to an ICS lead reading an approved revision): the
tag checks who is asking, so the pages that include it need no extra view code.
"""

from django import template

from assessments.comparison import peer_context_for

register = template.Library()


@register.inclusion_tag("comparison/_peer_context.html", takes_context=True)
def peer_context(context, assessment=None, approval=None):
    request = context.get("request")
    if request is None:
        return {"show_peer_context": False}
    return peer_context_for(request.user, assessment=assessment, approval=approval)
