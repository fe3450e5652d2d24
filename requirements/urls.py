from django.urls import path

from requirements import views

app_name = "requirements"
urlpatterns = [
    path("", views.current_framework, name="current"),
    path("<slug:slug>/<str:version>/", views.framework_detail, name="detail"),
]
