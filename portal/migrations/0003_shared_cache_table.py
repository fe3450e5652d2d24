"""The shared cache (settings.CACHES, Django's DatabaseCache) lives in a table: `migrate` creates it,
so no deployment step can be forgotten. createcachetable does nothing when the table exists."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("portal", "0002_email_unique_message")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
