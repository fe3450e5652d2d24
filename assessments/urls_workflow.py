"""Placeholder until the workflow pages are written."""

urlpatterns = []
