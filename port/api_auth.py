"""The API's sign-in and sign-out: `POST /api/v1/auth/token/` and `/api/v1/auth/logout/`."""

from django.contrib.auth import authenticate
from django.contrib.auth import logout as session_logout
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from port.auth import token_expires, token_issue, token_revoke


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires = serializers.DateTimeField(help_text="The key is refused from this time on")


class LockedOutSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(help_text="locked_out")


@extend_schema(
    request=CredentialsSerializer,
    responses={
        200: TokenSerializer,
        400: OpenApiResponse(description="Wrong username or password, or a missing field"),
        429: OpenApiResponse(
            LockedOutSerializer, description="Too many failures: see the Retry-After header"
        ),
    },
    description="Sign in with a username and password; each call issues a new key (the "
    "previous one stops working). Failed attempts are throttled (429 with Retry-After).",
)
@api_view(["POST"])
@authentication_classes([])
@permission_classes([AllowAny])
def token_obtain(request):
    data = CredentialsSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    # The Django request, so the throttle records the attempt on what the middleware sees.
    user = authenticate(request._request, **data.validated_data)
    if user is None or not user.is_active:
        raise exceptions.ValidationError(
            {"non_field_errors": [_("Unable to sign in with the username and password given.")]}
        )
    token = token_issue(user=user)
    return Response(TokenSerializer({"token": token.key, "expires": token_expires(token)}).data)


@extend_schema(request=None, responses={204: None}, description="Revoke your API token.")
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def token_logout(request):
    token_revoke(user=request.user)
    if request.auth is None:  # signed in with the session cookie: sign that out too
        session_logout(request._request)
    return Response(status=status.HTTP_204_NO_CONTENT)
