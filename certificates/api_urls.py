from certificates.api import CertificateViewSet
from port.api import Router

router = Router()
router.register("certificates", CertificateViewSet, basename="certificate")
urlpatterns = router.urls
