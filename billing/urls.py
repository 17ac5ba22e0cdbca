from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("", views.bill_list, name="list"),
    path("<int:bill_id>/", views.bill_detail, name="detail"),
    path("<int:bill_id>/receipt.pdf", views.bill_receipt, name="receipt"),
]
