import os

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt


def hello(request):
    return HttpResponse(
        "Hello from Django in a WebAssembly sandbox: %s (DJANGO_SETTINGS_MODULE=%s)\n"
        % (settings.SITE_TITLE, os.environ.get("DJANGO_SETTINGS_MODULE")),
        content_type="text/plain; charset=utf-8",
    )


@csrf_exempt
def upload(request):
    """Saves a multipart upload under MEDIA_ROOT, keeping its UTF-8 name."""
    f = request.FILES.get("file")
    if request.method != "POST" or f is None:
        return HttpResponseBadRequest("POST a multipart form with a 'file' field\n")
    name = default_storage.save(f.name, f)
    return JsonResponse({"name": name, "url": settings.MEDIA_URL + name, "size": f.size})


def boom(request):
    raise RuntimeError("boom: this traceback goes to the host log, not to the client")
