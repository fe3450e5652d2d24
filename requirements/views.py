"""Public pages: the framework, its requirements, rating scale and workforce indicators.

Anyone may read them without signing in. Drafts are for platform administrators only.
"""

from django.contrib.auth.decorators import login_not_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from portal.two_factor import is_platform_administrator
from requirements.models import Framework


@login_not_required
@require_safe
def current_framework(request):
    """The newest published version."""
    framework = Framework.objects.with_requirements_and_scale().current()
    if framework is None:
        return render(request, "requirements/no_framework.html", status=404)
    return render(request, "requirements/framework.html", {"framework": framework, "current": framework})


@login_not_required
@require_safe
def framework_detail(request, slug: str, version: str):
    """One version, published or retired; a draft only for platform administrators."""
    versions = Framework.objects.with_requirements_and_scale()
    if not is_platform_administrator(request.user):
        versions = versions.public()
    framework = get_object_or_404(versions, slug=slug, version=version)
    current = Framework.objects.current(slug=framework.slug)
    return render(request, "requirements/framework.html", {"framework": framework, "current": current})
