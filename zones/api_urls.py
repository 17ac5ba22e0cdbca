from port.api import Router
from zones.api import (
    GateReadViewSet,
    MovementViewSet,
    StockViewSet,
    TransitViewSet,
    ZoneUploadViewSet,
)

router = Router()
router.register("zones/stock", StockViewSet, basename="zone-stock")
router.register("zones/movements", MovementViewSet, basename="zone-movement")
router.register("zones/gate-reads", GateReadViewSet, basename="zone-gate-read")
router.register("zones/transits", TransitViewSet, basename="zone-transit")
router.register("zones/uploads", ZoneUploadViewSet, basename="zone-upload")
urlpatterns = router.urls
