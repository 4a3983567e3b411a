from django.urls import path

from apps.notifications import views

api = [
    path("notifications/", views.inbox, name="notifications"),
    path("notifications/preferences/", views.preferences, name="notification-preferences"),
    path("notifications/<int:notification_id>/read/", views.read, name="notification-read"),
]
hooks = [
    path("sms/<str:token>/", views.delivery_report, name="sms-delivery-report"),
]
