"""Placeholder while the foundation is built; replaced by the real views."""

from django.http import HttpResponse


def _todo(request, **kwargs):
    return HttpResponse("todo")


home = healthz = trust_people = invite_colleague = change_role = remove_member = withdraw_invitation = _todo
accept_invitation = _todo
