from rest_framework.routers import DefaultRouter

from alarms.api import AlarmViewSet

router = DefaultRouter()
router.register("alarms", AlarmViewSet, basename="alarm")
urlpatterns = router.urls
