from django.urls import path

from shipping import views

app_name = "shipping"

urlpatterns = [
    path("filings/", views.filing_list, name="filings"),
    path("filings/<int:filing_id>/", views.filing_detail, name="filing"),
    path("filings/<int:filing_id>/review/", views.review_decide, name="review"),
    path("filings/<int:filing_id>/resubmit/", views.filing_resubmit, name="resubmit"),
    path("calls/", views.call_list, name="calls"),
    path("calls/new/", views.call_new, name="call_new"),
    path("calls/<int:port_call_id>/", views.call_detail, name="call"),
    path("calls/<int:port_call_id>/file/", views.filing_new, name="filing_new"),
    path("calls/<int:port_call_id>/manifest/", views.manifest_add, name="manifest_add"),
    path("calls/<int:port_call_id>/edifact/", views.edifact_upload, name="edifact_upload"),
    path("calls/<int:port_call_id>/boardings/", views.boarding_book, name="boarding_book"),
    path(
        "calls/<int:port_call_id>/boardings/request/",
        views.boarding_request,
        name="boarding_request",
    ),
    path("boardings/", views.boarding_list, name="boardings"),
    path("calls/<int:port_call_id>/<str:action>/", views.call_action, name="call_action"),
    path(
        "boardings/<int:boarding_id>/<str:action>/", views.boarding_action, name="boarding_action"
    ),
    path("dangerous-goods/", views.dg_flags, name="dg_flags"),
    path("dangerous-goods/<int:flag_id>/resolve/", views.dg_flag_resolve, name="dg_flag_resolve"),
]
