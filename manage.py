#!/usr/bin/env python
"""Django's command-line entry point."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
    if sys.argv[1:2] == ["serve"]:
        # The embedded server decides DEBUG, its host names and its keys before the settings are read.
        from api.embedded import prepare_environment

        prepare_environment(sys.argv[2:])
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
