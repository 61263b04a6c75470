"""The secret managers: one package each, and what they share.

Each manager's package (``global_``, ``k8s``, ``aws``, ``gcp``, ``vault``, ``azure``) holds its
injector, its config section and its local materializer, and describes itself with a ``PLUGIN``
(:class:`~tasksecrets.managers.plugin.ManagerPlugin`) that the registry
(:mod:`tasksecrets.managers.registry`) finds by name. Shared by all: the plug-in API
(:mod:`.plugin`), the pod view and editor injectors read and edit pods through (:mod:`.podview`,
:mod:`.editor`), the pieces of a pod they add (:mod:`.fragments`), the file delivery rules
(:mod:`.delivery`), the base of the pull-container managers (:mod:`.pull`), the text templates
that render what a materializer reads back (:mod:`.templates`) and the materializers' context
(:mod:`.materializing`). Importing this package imports no manager.
"""
