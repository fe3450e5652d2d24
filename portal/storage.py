from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed static files, with JavaScript module imports rewritten to hashed names too.

    Our NHS.UK initialisation script imports nhsuk-frontend as an ES module; without this the
    import would load the unhashed file, which cannot be cached for long.
    """

    support_js_module_import_aggregation = True
