"""PNG rasterising in a separate process.

cairosvg holds the GIL for most of a render (tens of milliseconds at scale 3). In a
thread, a burst of new PNG variants (a cold start, a wave of state changes) stalls the
event loop and with it every warm badge. A worker process keeps the loop free.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from badge.render.png import render_png

logger = logging.getLogger("badge.render")

RENDER_TIMEOUT = 15.0


class RenderPool:
    """A lazily started process pool; restarted if a worker dies."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # forkserver: workers never inherit this process's threads or sockets, and the
            # server preloads the renderer so a new worker starts in milliseconds.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["badge.render.png"])
            self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        return self._executor

    def start(self) -> None:
        """Start the forkserver and the workers now (blocking: call it from a thread).

        Done lazily, the first PNG would start them on the event loop and stall it.
        """
        pool = self._pool()
        list(pool.map(_ready, range(self.workers)))

    async def png(self, svg: str, scale: int, token: str | None) -> bytes:
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._pool(), _job, svg, scale, token)
            return await asyncio.wait_for(future, timeout=RENDER_TIMEOUT)
        except BrokenProcessPool:
            logger.error("PNG render worker died; starting a new one")
            self.close(wait=False)
            raise

    def close(self, *, wait: bool = True) -> None:
        """Stop the workers; waiting lets them release their semaphores cleanly."""
        if self._executor is not None:
            self._executor.shutdown(wait=wait, cancel_futures=True)
            self._executor = None


def _ready(_: int) -> bool:
    return True


def _job(svg: str, scale: int, token: str | None) -> bytes:
    return render_png(svg, scale=scale, token=token)
