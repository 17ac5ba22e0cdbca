from alarms.api import AlarmViewSet
from port.api import Router

router = Router()
router.register("alarms", AlarmViewSet, basename="alarm")
urlpatterns = router.urls
