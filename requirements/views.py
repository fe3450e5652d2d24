"""Placeholder; replaced by the framework pages."""

from django.http import HttpResponse


def current_framework(request):
    return HttpResponse("todo")


def framework_detail(request, slug, version):
    return HttpResponse("todo")
