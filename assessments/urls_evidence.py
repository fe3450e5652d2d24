"""The trust's evidence library, and the evidence linked to one response."""

from django.urls import path

from assessments.views import evidence

urlpatterns = [
    path("trusts/<str:ods_code>/evidence/", evidence.evidence_library, name="evidence-library"),
    path("trusts/<str:ods_code>/evidence/upload/", evidence.evidence_upload, name="evidence-upload"),
    path("trusts/<str:ods_code>/evidence/link/", evidence.evidence_add_link, name="evidence-add-link"),
    path("trusts/<str:ods_code>/evidence/<int:item_id>/", evidence.evidence_detail, name="evidence-detail"),
    path(
        "trusts/<str:ods_code>/evidence/<int:item_id>/new-version/",
        evidence.evidence_new_version,
        name="evidence-new-version",
    ),
    path(
        "trusts/<str:ods_code>/evidence/<int:item_id>/versions/<int:number>/",
        evidence.evidence_download,
        name="evidence-download",
    ),
    path(
        "assessments/<int:pk>/requirements/<str:code>/evidence/",
        evidence.response_evidence,
        name="response-evidence",
    ),
]
