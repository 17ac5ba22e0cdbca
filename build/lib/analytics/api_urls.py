from django.urls import path

from analytics.api import DashboardView, PortMapView

urlpatterns = [
    path("analytics/dashboard/", DashboardView.as_view(), name="analytics-dashboard"),
    path("analytics/map/", PortMapView.as_view(), name="analytics-map"),
]
