"""I3 across a Redis restart: a channel that empties while Redis is down is still stopped.

Redis runs with AOF (as in production) and is stopped and started again on the same port.
While it is down the webhook service answers 503, so the sandbox resends the notification
(Agora resends too), and the arq worker exits (arq's loop ends on a Redis connection error)
and is started again, as compose's restart policy does. The controller then stops the
recording, or its periodic reconcile finds the empty channel through Agora's user list.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.e2e.checks import assert_converged, eventually
from tests.support.e2e.inprocess import in_process_stack
from worker.dev.redis_server import RedisServer

GRACE_S = 0.3
RECONCILE_S = 1.0
#: Sandbox resends after 0, 1 and 3 s; then grace, a pass, and a loaded machine.
HEAL_S = 3.0 + GRACE_S + RECONCILE_S + 3.0
HOST = 71


@pytest.mark.slow
async def test_a_channel_that_empties_while_redis_is_down_is_stopped_once_redis_returns(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    server = redis_server_factory(appendonly=True)
    env = {"AUTOREC_EMPTY_GRACE_S": str(GRACE_S), "AUTOREC_RECONCILE_INTERVAL_S": "1"}
    async with in_process_stack(server.url, env=env) as s:
        await s.admin.join("outage", HOST)
        await assert_converged(s.admin, occupied=["outage"])
        (worker,) = s.workers
        server.stop()
        await s.admin.leave("outage", HOST)
        await eventually(lambda: worker.died, what="the worker to exit without Redis")
        server.start()
        await s.restart(worker)

        await assert_converged(s.admin, occupied=[], empty=["outage"], timeout_s=HEAL_S)
