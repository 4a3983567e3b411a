from django.urls import path

from apps.engagement import views

api = [
    path("assignments/", views.assignments, name="assignments"),
    path("assignments/<int:assignment_id>/complete/", views.complete, name="assignment-complete"),
]
