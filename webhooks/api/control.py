"""The process's manual control (record now, stop now, back to automatic) as the API uses it.

Built once in the lifespan (`ManualControl` over the service's Redis client and the policy
file, for validation) and reached by handlers through `control(call)`. Its refusals become
API errors here: `Invalid` → 400 naming the field, `Conflict` → 409.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from webhooks.api.errors import ApiError
from webhooks.api.operation import ApiCall
from worker.state.manual import Conflict, Invalid, ManualControl

T = TypeVar("T")


def control(call: ApiCall) -> ManualControl:
    """The process's ManualControl (lifespan state)."""
    manual: ManualControl = call.request.state.manual
    return manual


async def refusals(action: Awaitable[T]) -> T:
    """Await `action`, turning manual control's refusals into API errors."""
    try:
        return await action
    except Invalid as exc:
        raise ApiError(400, str(exc), exc.field) from None
    except Conflict as exc:
        raise ApiError(409, str(exc), exc.field) from None
