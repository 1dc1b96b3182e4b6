#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

# Commands that are not the app and need none of its settings (no SECRET_KEY, no database).
STANDALONE = {"kling_simulator": "projects.engines.simulator.__main__"}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in STANDALONE:
        import importlib

        module = importlib.import_module(STANDALONE[sys.argv[1]])
        module.main(sys.argv[2:], prog=f"manage.py {sys.argv[1]}")
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lipsync_web.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # A wrong setting is the operator's to fix: say which, without a traceback.
        sys.stderr.write(f"Configuration error: {error}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
