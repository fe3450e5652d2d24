"""Placeholder until the evidence pages are written."""

urlpatterns = []
