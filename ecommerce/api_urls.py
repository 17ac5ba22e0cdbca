from django.urls import path

from ecommerce import api

urlpatterns = [
    path("ecommerce/orders/batch/", api.order_batch, name="ecommerce-order-batch"),
    path("ecommerce/payments/batch/", api.payment_batch, name="ecommerce-payment-batch"),
    path("ecommerce/waybills/batch/", api.waybill_batch, name="ecommerce-waybill-batch"),
    path("ecommerce/lists/batch/", api.list_batch, name="ecommerce-list-batch"),
    path("ecommerce/lists/", api.list_index, name="ecommerce-lists"),
    path("ecommerce/lists/<int:pk>/", api.list_detail, name="ecommerce-list"),
    path("ecommerce/lists/<int:pk>/inspect/", api.list_inspect, name="ecommerce-list-inspect"),
    path("ecommerce/lists/<int:pk>/return/", api.list_return, name="ecommerce-list-return"),
    path("ecommerce/sorting/<str:waybill_no>/", api.sorting, name="ecommerce-sorting"),
    path("ecommerce/board/", api.board, name="ecommerce-board"),
    path("ecommerce/tax-bill/", api.tax_bill, name="ecommerce-tax-bill"),
    path("ecommerce/tax-bill/settle/", api.tax_bill_settle, name="ecommerce-tax-bill-settle"),
    path("ecommerce/summaries/", api.summaries, name="ecommerce-summaries"),
    path("ecommerce/export-summary/", api.export_summary, name="ecommerce-export-summary"),
]
