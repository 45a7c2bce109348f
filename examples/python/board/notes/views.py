from django.http import HttpResponse
from django.utils.html import escape

from .models import Note


def note_list(request):
    """Every note, newest first, with a link to its attachment."""
    rows = []
    for n in Note.objects.all():
        link = ""
        if n.attachment:
            link = ' <a href="%s">%s</a>' % (escape(n.attachment.url), escape(n.attachment.name.rsplit("/", 1)[-1]))
        rows.append("<li>%s%s</li>" % (escape(n.title), link))
    html = "<!doctype html><meta charset=utf-8><title>Notes</title><h1>Notes</h1><ul>%s</ul><p><a href=/admin/>admin</a>" % "".join(rows)
    return HttpResponse(html)
