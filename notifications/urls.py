from django.urls import path

from notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.notification_list, name="list"),
    path("badge/", views.badge, name="badge"),
    path("read/", views.mark_read, name="read"),
    path("settings/", views.preferences, name="preferences"),
]
