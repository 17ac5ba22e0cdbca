from billing.api import BillViewSet
from port.api import Router

router = Router()
router.register("bills", BillViewSet, basename="bill")
urlpatterns = router.urls
