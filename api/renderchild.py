"""What every render child (api.renderpool) starts with, loaded once by the fork server: Django set up (the report
templates print dates and numbers by the settings) and the report renderers with WeasyPrint and openpyxl imported.

No database connection is opened here: a child renders plain data it is given.
"""

import django
from django.apps import apps

if not apps.ready:
    django.setup()

import openpyxl  # noqa: E402, F401
import weasyprint  # noqa: E402, F401

import reports.render  # noqa: E402, F401
