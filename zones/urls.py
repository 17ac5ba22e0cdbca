from django.urls import path

from zones import views

app_name = "zones"
urlpatterns = [
    path("", views.account, name="account"),
    path("upload/", views.upload, name="upload"),
    path("uploads/<int:upload_id>/", views.upload_detail, name="upload_detail"),
    path("movements/<int:movement_id>/", views.movement_detail, name="movement"),
    path("gate/", views.gate_board, name="gate"),
    path("gate/<int:gate_id>/", views.gate_board, name="gate_detail"),
]
