"""Placeholder until the responses pages are written."""

urlpatterns = []
