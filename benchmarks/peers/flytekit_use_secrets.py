"""The seed workflow written for flytekit, the peer of ``tasksecrets run`` in benchmarks/local_run.py.

``pyflyte run benchmarks/peers/flytekit_use_secrets.py my_secret_workflow`` runs it locally; flytekit has no
local secret injection, so the benchmark gives the secrets as ``_FSEC_USER-INFO_<KEY>`` env vars.
"""

from typing import Tuple  # noqa: UP035  (kept as the seed writes it)

import flytekit
from flytekit import Secret, task, workflow

SECRET_GROUP = "user-info"
SECRET_NAME = "user_secret"
USERNAME_SECRET = "username"
PASSWORD_SECRET = "password"


@task(secret_requests=[Secret(group=SECRET_GROUP, key=SECRET_NAME)])
def secret_task() -> str:
    return flytekit.current_context().secrets.get(SECRET_GROUP, SECRET_NAME)


@task(
    secret_requests=[
        Secret(key=USERNAME_SECRET, group=SECRET_GROUP),
        Secret(key=PASSWORD_SECRET, group=SECRET_GROUP),
    ]
)
def user_info_task() -> Tuple[str, str]:  # noqa: UP006
    context = flytekit.current_context()
    return context.secrets.get(SECRET_GROUP, USERNAME_SECRET), context.secrets.get(
        SECRET_GROUP, PASSWORD_SECRET
    )


@task(
    secret_requests=[Secret(group=SECRET_GROUP, key=SECRET_NAME, mount_requirement=Secret.MountType.ENV_VAR)]
)
def secret_file_task() -> Tuple[str, str]:  # noqa: UP006
    secrets = flytekit.current_context().secrets
    return secrets.get_secrets_file(SECRET_GROUP, SECRET_NAME), secrets.get(SECRET_GROUP, SECRET_NAME)


@workflow
def my_secret_workflow() -> Tuple[str, str, str, str, str]:  # noqa: UP006
    x = secret_task()
    y, z = user_info_task()
    f, s = secret_file_task()
    return x, y, z, f, s
