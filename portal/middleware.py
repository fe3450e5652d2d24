from django.http import HttpResponseBadRequest


class RejectNulMiddleware:
    """Refuse requests whose address or query string holds a NUL character.

    PostgreSQL cannot store or compare text containing NUL, so such a value reaching a query
    would be a server error; no real link ever contains one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or "\x00" in request.META.get("QUERY_STRING", "") or _has_nul(request.GET):
            return HttpResponseBadRequest("Bad request: the address contains a character that is not allowed.")
        return self.get_response(request)


def _has_nul(query) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in query.lists())
