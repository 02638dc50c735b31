"""What the apps' admin mixins share."""

from typing import TYPE_CHECKING, Any

from django.contrib import admin

if TYPE_CHECKING:
    # The base of a ModelAdmin mixin as the type checker sees it, so the methods the mixin
    # calls and extends (`super().get_urls()`, `self.message_user`) are checked; at run time a
    # plain object, so the mixin still goes before `admin.ModelAdmin` in a class's bases.
    ModelAdminMixinBase = admin.ModelAdmin[Any]
else:
    ModelAdminMixinBase = object
