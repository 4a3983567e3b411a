from django.urls import path

from apps.accounts import views

api = [
    path("auth/token/", views.token, name="auth-token"),
]
