from django.urls import path

from declarations import views

app_name = "declarations"
urlpatterns = [
    path("", views.declaration_list, name="list"),
    path("new/", views.declaration_new, name="new"),
    path("<int:declaration_id>/", views.declaration_detail, name="detail"),
]
