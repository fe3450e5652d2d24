from django.urls import path

from assessments.views import reports

urlpatterns = [
    path("assessments/<int:pk>/cover-sheet/", reports.cover_sheet, name="cover-sheet"),
    path("assessments/<int:pk>/report/", reports.draft_preview, name="board-report-preview"),
    path("assessments/<int:pk>/report/draft.pdf", reports.draft_pdf, name="board-report-draft-pdf"),
    path(
        "assessments/<int:pk>/revisions/<int:revision>/report/",
        reports.approved_preview,
        name="approval-report-preview",
    ),
    path(
        "assessments/<int:pk>/revisions/<int:revision>/report.pdf",
        reports.approved_pdf,
        name="approval-report-pdf",
    ),
]
