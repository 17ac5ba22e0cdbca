from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from certificates import views as certificate_views
from port import api_auth, health, observability, views

api_v1 = [
    path("auth/token/", api_auth.token_obtain, name="api-token"),
    path("auth/logout/", api_auth.token_logout, name="api-logout"),
    path("", include("declarations.api_urls")),
    path("", include("certificates.api_urls")),
    path("", include("inspection.api_urls")),
    path("", include("shipping.api_urls")),
    path("", include("analytics.api_urls")),
    path("", include("billing.api_urls")),
    path("", include("ecommerce.api_urls")),
    path("", include("zones.api_urls")),
    path("", include("alarms.api_urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("livez", health.livez, name="livez"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", observability.metrics, name="metrics"),
    path("port-calls/", views.port_calls, name="port_calls"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("declarations/", include("declarations.urls")),
    path("inspection/", include("inspection.urls")),
    path("certificates/", include("certificates.urls")),
    path("shipping/", include("shipping.urls")),
    path("analytics/", include("analytics.urls")),
    path("ecommerce/", include("ecommerce.urls")),
    path("notifications/", include("notifications.urls")),
    path("billing/", include("billing.urls")),
    path("zones/", include("zones.urls")),
    path("alarms/", include("alarms.urls")),
    path("verify/", certificate_views.verify, name="verify"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]
