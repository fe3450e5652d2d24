from django.conf import settings


def service(request):
    """Service-wide values every page shows: name, phase and contact address."""
    return {
        "service_name": settings.SERVICE_NAME,
        "service_phase": settings.SERVICE_PHASE,
        "service_contact_email": settings.SERVICE_CONTACT_EMAIL,
        "invitation_days": settings.INVITATION_MAX_AGE.days,
        "password_reset_hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
    }
