from django.urls import path

from declarations import views

app_name = "declarations"
urlpatterns = [
    path("", views.declaration_list, name="list"),
    path("new/", views.declaration_new, name="new"),
    path("<int:declaration_id>/", views.declaration_detail, name="detail"),
    path("<int:declaration_id>/edit/", views.declaration_edit, name="edit"),
    path("<int:declaration_id>/submit/", views.declaration_submit, name="submit"),
    path("<int:declaration_id>/withdraw/", views.declaration_withdraw, name="withdraw"),
    path("uploads/", views.upload_list, name="upload"),
    path("uploads/<int:upload_id>/", views.upload_detail, name="upload_detail"),
    path("lookup/hs/", views.lookup_hs, name="lookup_hs"),
    path("lookup/cas/", views.lookup_cas, name="lookup_cas"),
]
