from declarations.api import DeclarationViewSet, ErpUploadViewSet
from port.api import Router

router = Router()
router.register("declarations", DeclarationViewSet, basename="declaration")
router.register("declaration-uploads", ErpUploadViewSet, basename="declaration-upload")
urlpatterns = router.urls
