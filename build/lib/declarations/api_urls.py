from rest_framework.routers import DefaultRouter

from declarations.api import DeclarationViewSet, ErpUploadViewSet

router = DefaultRouter()
router.register("declarations", DeclarationViewSet, basename="declaration")
router.register("declaration-uploads", ErpUploadViewSet, basename="declaration-upload")
urlpatterns = router.urls
