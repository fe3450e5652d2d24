"""Starting an assessment, its task list, answering requirements, workforce figures and the improvement plan."""

from django.urls import path

from assessments.views import responses as views

urlpatterns = [
    path("trusts/<str:ods_code>/assessments/", views.assessment_list, name="assessment-list"),
    path("trusts/<str:ods_code>/assessments/start/", views.assessment_start, name="assessment-start"),
    path("assessments/<int:pk>/", views.assessment_overview, name="assessment-overview"),
    path("assessments/<int:pk>/requirements/<str:code>/", views.response_edit, name="response-edit"),
    path("assessments/<int:pk>/requirements/<str:code>/assign/", views.response_assign, name="response-assign"),
    path("assessments/<int:pk>/workforce/", views.workforce, name="assessment-workforce"),
    path("assessments/<int:pk>/actions/", views.action_list, name="action-list"),
    path("assessments/<int:pk>/actions/add/", views.action_add, name="action-add"),
    path("assessments/<int:pk>/actions/<int:action_id>/", views.action_edit, name="action-edit"),
    path("assessments/<int:pk>/actions/<int:action_id>/remove/", views.action_remove, name="action-remove"),
]
