from port.api import Router
from shipping.api import (
    EdifactImportViewSet,
    FlagViewSet,
    PortCallViewSet,
    VesselFilingViewSet,
)
from shipping.api_boardings import BoardingViewSet

router = Router()
router.register("vessel-filings", VesselFilingViewSet, basename="vessel-filing")
router.register("port-calls", PortCallViewSet, basename="port-call")
router.register("edifact-imports", EdifactImportViewSet, basename="edifact-import")
router.register("dangerous-goods-flags", FlagViewSet, basename="dangerous-goods-flag")
router.register("boardings", BoardingViewSet, basename="boarding")

urlpatterns = router.urls
