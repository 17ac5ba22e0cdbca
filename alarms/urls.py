from django.urls import path

from alarms import views

app_name = "alarms"
urlpatterns = [
    path("", views.board, name="board"),
    path("<int:alarm_id>/", views.detail, name="detail"),
    path("<int:alarm_id>/<str:step>/", views.act, name="act"),
]
