from django.urls import path

from certificates import views

app_name = "certificates"
urlpatterns = [
    path("", views.certificate_list, name="list"),
    path("new/", views.certificate_new, name="new"),
    path("reviews/", views.certificate_reviews, name="reviews"),
    path("<int:certificate_id>/", views.certificate_detail, name="detail"),
    path("<int:certificate_id>/pdf/", views.certificate_pdf, name="pdf"),
    path("<int:certificate_id>/resubmit/", views.certificate_resubmit, name="resubmit"),
    path("<int:certificate_id>/<str:action>/", views.certificate_action, name="action"),
]
