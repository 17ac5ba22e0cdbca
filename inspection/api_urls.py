from rest_framework.routers import DefaultRouter

from inspection.api import DiversionViewSet, GateEventViewSet, TicketViewSet

router = DefaultRouter()
router.register("inspection/tickets", TicketViewSet, basename="inspection-ticket")
router.register("gate-events", GateEventViewSet, basename="gate-event")
router.register("diversion/instructions", DiversionViewSet, basename="diversion-instruction")
urlpatterns = router.urls
