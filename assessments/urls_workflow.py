"""Sign-off pages: submit, approve, return, reopen, the audit trail and approved revisions."""

from django.urls import path

from assessments.views import workflow

urlpatterns = [
    path("assessments/<int:pk>/submit/", workflow.submit, name="assessment-submit"),
    path("assessments/<int:pk>/sign-off/", workflow.sign_off, name="assessment-sign-off"),
    path("assessments/<int:pk>/return/", workflow.return_to_lead, name="assessment-return"),
    path("assessments/<int:pk>/reopen/", workflow.reopen, name="assessment-reopen"),
    path("assessments/<int:pk>/history/", workflow.history, name="assessment-history"),
    path("assessments/<int:pk>/revisions/<int:revision>/", workflow.approval_detail, name="approval-detail"),
]
