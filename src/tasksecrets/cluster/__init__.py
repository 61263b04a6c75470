"""Workflows on a Kubernetes cluster: each task call a Pod, its secrets injected by the cluster's webhook.

:class:`~tasksecrets.cluster.executor.KubernetesExecutor` is the SDK executor ``tasksecrets run
--cluster`` uses. It needs the ``kubernetes`` extra (lightkube), imported only when it runs.
"""
