"""`{% api_urls_script %}`: the API addresses the pages' scripts call, made by `reverse`.

base.html renders it once per page; `static/js/lib/urls.js` reads it, so no
script writes an API path by hand.
"""

from __future__ import annotations

from django import template
from django.utils.html import json_script

from inventories.url_templates import api_urls

register = template.Library()


@register.simple_tag
def api_urls_script() -> str:
    """The scripts' URL table as a JSON script element (id `api-urls`)."""
    return json_script(api_urls(), "api-urls")
