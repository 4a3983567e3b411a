from django.urls import path

from bench.floor import views

urlpatterns = [
    path("floor/purchases/", views.purchase),
    path("floor/stk/<int:purchase_id>/", views.stk_callback),
    path("floor/sms/", views.sms_report),
]
