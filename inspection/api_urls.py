from inspection.api import (
    DiversionViewSet,
    GateEventViewSet,
    ReassessmentViewSet,
    TicketViewSet,
    WebhookViewSet,
)
from inspection.api_trader import (
    AccessCheckViewSet,
    AttendanceRequestViewSet,
    BookingViewSet,
    EnterpriseTicketViewSet,
)
from port.api import Router

router = Router()
router.register("inspection/tickets", TicketViewSet, basename="inspection-ticket")
router.register("inspection/reassessments", ReassessmentViewSet, basename="inspection-reassessment")
router.register("gate-events", GateEventViewSet, basename="gate-event")
router.register("diversion/instructions", DiversionViewSet, basename="diversion-instruction")
router.register("diversion/webhook", WebhookViewSet, basename="diversion-webhook")
router.register(
    "inspection/enterprise-tickets",
    EnterpriseTicketViewSet,
    basename="inspection-enterprise-ticket",
)
router.register(
    "inspection/attendance-requests", AttendanceRequestViewSet, basename="inspection-attendance"
)
router.register("inspection/access-checks", AccessCheckViewSet, basename="inspection-access")
router.register("inspection/bookings", BookingViewSet, basename="inspection-booking")
urlpatterns = router.urls
