"""The login page, throttled: failed logins are counted per address and per username.

A cache counter (the Django cache: Redis in production through SCARP_CACHE_URL)
is enough here; after SCARP_LOGIN_ATTEMPTS failures within
SCARP_LOGIN_WINDOW_SECONDS the page answers 429 without checking the password,
so guessing costs the attacker the window each time.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import LoginView
from django.core.cache import cache


def _keys(request) -> list[str]:
    address = request.META.get("REMOTE_ADDR", "")
    username = (request.POST.get("username") or "").strip().lower()
    keys = [f"login-fail:addr:{address}"]
    if username:
        keys.append(f"login-fail:user:{username}")
    return keys


class ThrottledLoginView(LoginView):
    def post(self, request, *args, **kwargs):
        if any(cache.get(key, 0) >= settings.SCARP_LOGIN_ATTEMPTS for key in _keys(request)):
            form = self.get_form_class()(request)  # unbound: the password is not checked
            response = self.render_to_response(self.get_context_data(form=form, throttled=True))
            response.status_code = 429
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        window = settings.SCARP_LOGIN_WINDOW_SECONDS
        for key in _keys(self.request):
            cache.add(key, 0, timeout=window)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=window)
        return super().form_invalid(form)
