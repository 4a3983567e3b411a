from django.urls import path

from apps.documents import views

app_name = "documents"
urlpatterns = [
    path("<str:document_id>/download/", views.download, name="download"),
    path("<str:document_id>/progress/", views.progress, name="progress"),
]
