"""`manage.py kling_simulator`: serve the Kling-compatible simulator in the foreground.

manage.py runs it before loading the app's settings (the simulator needs none of them, so a
fresh clone without SECRET_KEY starts it); this command is the same entry for `call_command`.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from projects.engines.simulator import __main__ as simulator_main


class Command(BaseCommand):
    help = simulator_main.DESCRIPTION

    def add_arguments(self, parser: CommandParser) -> None:
        simulator_main.add_arguments(parser)

    def handle(self, *args: object, **options: object) -> None:
        simulator_main.serve(simulator_main.config_from(options), announce=self.stdout.write)
