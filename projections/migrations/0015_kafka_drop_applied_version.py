"""The `projections` consumer group is gone (the read models are written by each command's transaction), and with
it the versions it recorded for the API to wait on."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("projections", "0014_one_database")]

    operations = [migrations.DeleteModel(name="AppliedVersion")]
