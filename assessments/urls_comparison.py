"""The ICS comparison: one ICB's trusts side by side, and its exports."""

from django.urls import path

from assessments.views import comparison, summary_pack

urlpatterns = [
    path("icbs/<str:ods_code>/compare/", comparison.comparison, name="comparison"),
    path("icbs/<str:ods_code>/compare/export.<str:fmt>", comparison.comparison_export, name="comparison-export"),
    path("icbs/<str:ods_code>/compare/summary-pack.pdf", summary_pack.summary_pack_pdf, name="comparison-summary-pack"),
]
