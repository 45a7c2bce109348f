from django.urls import path

from . import views

urlpatterns = [
    path("", views.hello),
    path("upload/", views.upload),
    path("boom/", views.boom),
]
