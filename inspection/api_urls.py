from inspection.api import (
    DiversionViewSet,
    GateEventViewSet,
    ReassessmentViewSet,
    TicketViewSet,
    WebhookViewSet,
)
from port.api import Router

router = Router()
router.register("inspection/tickets", TicketViewSet, basename="inspection-ticket")
router.register("inspection/reassessments", ReassessmentViewSet, basename="inspection-reassessment")
router.register("gate-events", GateEventViewSet, basename="gate-event")
router.register("diversion/instructions", DiversionViewSet, basename="diversion-instruction")
router.register("diversion/webhook", WebhookViewSet, basename="diversion-webhook")
urlpatterns = router.urls
