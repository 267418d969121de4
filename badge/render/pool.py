"""PNG rendering in a separate process.

Laying out and painting a badge holds the GIL for milliseconds. In a thread, a burst of
new PNG variants (a cold start, a wave of state changes) stalls the event loop and with
it every warm badge. A worker process keeps the loop free.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Final

from badge.render.fonts import load_fonts
from badge.render.png import render_png_view
from badge.render.svg import BadgeView

logger = logging.getLogger("badge.render")

RENDER_TIMEOUT = 15.0
# What drawing a PNG raises when the worker cannot answer (it died, or took too long), as
# opposed to a bug.
RENDER_ERRORS: Final = (BrokenProcessPool, TimeoutError, OSError)


class RenderPool:
    """A lazily started process pool; restarted if a worker dies."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # forkserver: workers never inherit this process's threads or sockets, and the
            # server preloads the renderer's modules (cairocffi, fontTools) for them.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["badge.render.raster", "badge.render.png"])
            # Workers lay out text, so each parses the fonts (half a second) as it starts.
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context, initializer=load_fonts
            )
        return self._executor

    def start(self) -> None:
        """Start the forkserver and the workers now (blocking: call it from a thread).

        Done lazily, the first PNG would start them on the event loop and stall it.
        """
        pool = self._pool()
        list(pool.map(_ready, range(self.workers)))

    async def png(self, view: BadgeView, scale: int) -> bytes:
        """The badge's pixels at `scale`, unsigned: the caller bakes in the token (png.bake)."""
        loop = asyncio.get_running_loop()
        try:
            job = loop.run_in_executor(self._pool(), render_png_view, view, scale)
            return await asyncio.wait_for(job, timeout=RENDER_TIMEOUT)
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
