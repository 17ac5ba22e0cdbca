from django.urls import path

from inspection import views

app_name = "inspection"
urlpatterns = [path("queue/", views.inspection_queue, name="queue")]
