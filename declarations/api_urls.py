from rest_framework.routers import DefaultRouter

from declarations.api import DeclarationViewSet

router = DefaultRouter()
router.register("declarations", DeclarationViewSet, basename="declaration")
urlpatterns = router.urls
