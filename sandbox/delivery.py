"""Delivery of NCS events to the configured URL: signed POSTs from a queue, resent on failure
(Agora: no 200 within the timeout → resend at once, then at growing intervals, three
retries), disturbed by the `ncs_*` fault rules (drop, duplicate, reorder)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from sandbox.config import SandboxConfig
from sandbox.faults import FaultBook
from sandbox.models import NcsEvent
from sandbox.ncs import encode_body, request_headers

logger = logging.getLogger(__name__)

#: Real seconds a reordered event waits for a later one to overtake it.
REORDER_HOLD_S = 0.2


class NcsDispatcher:
    """Owns the queue, the HTTP client and the retry tasks; `start()` then `aclose()`."""

    def __init__(self, config: SandboxConfig, faults: FaultBook) -> None:
        if config.ncs_url is None:
            raise ValueError("NcsDispatcher needs SandboxConfig.ncs_url")
        self._config = config
        self._url = config.ncs_url
        self._faults = faults
        self._queue: asyncio.Queue[NcsEvent] = asyncio.Queue()
        self._client: httpx.AsyncClient | None = None
        self._runner: asyncio.Task[None] | None = None
        self._retries: set[asyncio.Task[None]] = set()

    def submit(self, event: NcsEvent) -> None:
        """Queue an event (called synchronously by the world as it emits)."""
        self._queue.put_nowait(event)

    async def start(self) -> None:
        """Open the HTTP client and start delivering."""
        self._client = httpx.AsyncClient(
            transport=self._config.ncs_transport, timeout=self._config.ncs_timeout_s
        )
        self._runner = asyncio.create_task(self._run(), name="sandbox-ncs-delivery")

    async def wait_idle(self) -> None:
        """Return once every queued event had its first attempt and no resend is pending."""
        await self._queue.join()
        while self._retries:
            await asyncio.gather(*self._retries, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop delivering (pending events are abandoned) and close the client."""
        tasks = [*self._retries, *([self._runner] if self._runner else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        held: NcsEvent | None = None
        while True:
            if held is None:
                event = await self._queue.get()
            else:
                try:
                    event = await asyncio.wait_for(self._queue.get(), REORDER_HOLD_S)
                except TimeoutError:
                    await self._deliver(held)
                    held = None
                    continue
            fault = self._faults.for_ncs(event.event_type)
            if fault.drop:
                event.dropped = True
                self._queue.task_done()
                continue
            event.duplicated = fault.duplicate
            if held is not None:
                await self._deliver(event)
                await self._deliver(held)
                held = None
            elif fault.reorder:
                held = event
            else:
                await self._deliver(event)

    async def _deliver(self, event: NcsEvent) -> None:
        try:
            for _ in range(2 if event.duplicated else 1):
                if not await self._attempt(event):
                    retry = asyncio.create_task(self._retry(event))
                    self._retries.add(retry)
                    retry.add_done_callback(self._retries.discard)
                    return
        finally:
            self._queue.task_done()

    async def _retry(self, event: NcsEvent) -> None:
        for delay_s in self._config.ncs_retry_delays_s:
            await asyncio.sleep(delay_s)
            if await self._attempt(event):
                return
        logger.warning("NCS %s was not accepted after %d attempts", event.notice_id, event.attempts)

    async def _attempt(self, event: NcsEvent) -> bool:
        assert self._client is not None
        body = encode_body(event, int(self._config.clock.time() * 1000))
        headers = request_headers(self._config.ncs_secret, body)
        event.attempts += 1
        sent_at_s = self._config.clock.monotonic()
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            logger.info("NCS %s delivery failed: %s", event.notice_id, type(exc).__name__)
            event.last_status = None
            event.answers.append((sent_at_s, None))
            return False
        event.last_status = response.status_code
        event.answers.append((sent_at_s, response.status_code))
        if response.status_code != httpx.codes.OK:
            return False
        event.delivered += 1
        return True
