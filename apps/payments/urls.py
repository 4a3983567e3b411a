from django.urls import path

from apps.payments import views

api = [
    path("packages/", views.packages, name="packages"),
    path("purchases/", views.purchases, name="purchases"),
    path("payments/<str:payment_id>/", views.payment_detail, name="payment-detail"),
    path("payments/<str:payment_id>/receipt.pdf", views.payment_receipt, name="payment-receipt"),
]

# Daraja refuses callback URLs containing mpesa, safaricom, exe, cmd, sql or query.
hooks = [
    path("stk/<str:token>/", views.stk_callback, name="hook-stk"),
    path("stk/<str:token>/<str:reference>/", views.stk_callback, name="hook-stk-payment"),
    path("c2b/validate/<str:token>/", views.c2b_validate, name="hook-c2b-validate"),
    path("c2b/confirm/<str:token>/", views.c2b_confirm, name="hook-c2b-confirm"),
    path("stripe/", views.stripe_webhook, name="hook-stripe"),
]
