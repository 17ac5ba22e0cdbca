from django.urls import path

from ecommerce import views

app_name = "ecommerce"
urlpatterns = [
    path("lists/", views.lists, name="lists"),
    path("exports/", views.exports, name="exports"),
    path("summaries/", views.summaries, name="summaries"),
    path("tax/", views.tax, name="tax"),
    path("queue/", views.queue, name="queue"),
    path("queue/<int:pk>/inspect/", views.inspect, name="inspect"),
    path("board/", views.board, name="board"),
    path("rules/", views.rules, name="rules"),
]
