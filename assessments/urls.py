"""Assessment pages, grouped by area: answering, the evidence library, and sign-off."""

from django.urls import include, path

urlpatterns = [
    path("", include("assessments.urls_responses")),
    path("", include("assessments.urls_evidence")),
    path("", include("assessments.urls_workflow")),
    path("", include("assessments.urls_reports")),
    path("", include("assessments.urls_comparison")),
]
