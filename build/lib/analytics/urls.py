from django.urls import path

from analytics import views

app_name = "analytics"
urlpatterns = [
    path("", views.dashboard_page, name="dashboard"),
    path("map/", views.port_map, name="map"),
    path("export/<slug:key>.csv", views.export_csv, name="export"),
]
