from django.contrib.auth.models import User
from django.http import JsonResponse
from django.urls import path


def users(request):
    """?add=NAME creates a user (no password: nothing to hash); the
    answer lists them all."""
    if "add" in request.GET:
        User.objects.create(username=request.GET["add"])
    return JsonResponse({"users": sorted(User.objects.values_list("username", flat=True))})


urlpatterns = [path("users", users)]
