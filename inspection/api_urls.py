from rest_framework.routers import DefaultRouter

from inspection.api import GateEventViewSet, TicketViewSet

router = DefaultRouter()
router.register("inspection/tickets", TicketViewSet, basename="inspection-ticket")
router.register("gate-events", GateEventViewSet, basename="gate-event")
urlpatterns = router.urls
