from django.urls import path

from inspection import views, views_trader

app_name = "inspection"
urlpatterns = [
    path("queue/", views.inspection_queue, name="queue"),
    path("areas/<int:area_id>/call-next/", views.call_next, name="call_next"),
    path("tickets/<int:inspection_id>/", views.ticket_detail, name="ticket"),
    path(
        "tickets/<int:inspection_id>/scan/", views.ticket_file, {"kind": "scan"}, name="ticket_scan"
    ),
    path(
        "tickets/<int:inspection_id>/photos/<int:photo_id>/",
        views.ticket_file,
        {"kind": "photo"},
        name="ticket_photo",
    ),
    path("decisions/<int:decision_id>/", views.decision_detail, name="decision"),
    path("rules/", views.rule_list, name="rules"),
    path("rules/new/", views.rule_edit, name="rule_new"),
    path("rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("hoisting/", views.hoisting, name="hoisting"),
    path("gate/", views.gate, name="gate"),
    path("access/", views_trader.access_list, name="access"),
    path("attendance/", views_trader.attendance_list, name="attendance"),
    path(
        "tickets/<int:inspection_id>/attendance/",
        views_trader.attendance_ask,
        name="attendance_ask",
    ),
    path(
        "tickets/<int:inspection_id>/booking/",
        views_trader.booking_make,
        name="booking_make",
    ),
    path("calls/<int:port_call_id>/diversion/", views.call_diversion, name="diversion"),
]
