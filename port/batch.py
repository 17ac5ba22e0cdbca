"""What work on a whole batch (a vessel's 14,000 containers, thousands of filings) needs
beside the SQL: the garbage collector kept out of the way while the batch builds its rows."""

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic garbage collection inside: a batch allocates hundreds of thousands of
    short-lived rows, and each full collection it triggers walks everything the process
    holds (py-spy of a vessel assessment: a tenth of its time). Reference counting still
    frees them; cycles wait for the next collection after the block."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
