from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Lip-sync projects"

    def ready(self) -> None:
        from axes.signals import user_locked_out

        from projects.views.accounts import record_login_lock

        user_locked_out.connect(record_login_lock, dispatch_uid="projects.record_login_lock")
