from django.urls import path

from apps.wallets import views

api = [
    path("wallet/", views.wallet, name="wallet"),
]
