"""Global: values the webhook's own process holds, as plain env vars (``secretManagerType: Global``).

Its settings are the top-level ``secrets:`` section, which the config core owns; the webhook and
the local runner build its source from that section and their own environment.
"""

from tasksecrets.managers.plugin import ManagerPlugin

PLUGIN = ManagerPlugin(name="Global", injector="tasksecrets.managers.global_.injector:GlobalInjector")
