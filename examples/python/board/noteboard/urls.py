"""URL configuration of the note board: the admin and the list of notes.
/static/ and /media/ are served by wasgi's aliases, not by Django."""
from django.contrib import admin
from django.urls import path

from notes.views import note_list

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", note_list, name="notes"),
]
