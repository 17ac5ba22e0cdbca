"""Portwise's URLs plus `POST /bench/bare/`: the least a DRF create can do (token
authentication, a ModelSerializer, one INSERT), the peer of the filing load test."""

from django.urls import path
from rest_framework import generics, serializers

from port.models import Container
from port.urls import urlpatterns as portwise


class BareContainerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Container
        fields = ["id", "number", "size_type"]


class BareCreate(generics.CreateAPIView):
    serializer_class = BareContainerSerializer


urlpatterns = [path("bench/bare/", BareCreate.as_view()), *portwise]
