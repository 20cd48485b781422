"""Load Rasa's model without keeping the training graph in memory.

Loading a DIET model runs one training step to build its layers before the weights are read. In
graph mode TensorFlow traces and keeps that whole training graph, about 350 MB a replica that no
prediction ever uses. The load therefore runs eagerly; prediction goes back to graph mode (same
speed, same results) and is traced once by a warm-up parse, so the first citizen does not wait
for it. Then the memory the load freed is handed back to the system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

WARM_UP_TEXT = "xin chao"


def release_freed_memory() -> None:
    """glibc keeps freed heap pages for reuse; the load's are not needed again."""
    libc = ctypes.util.find_library("c")
    if libc:
        ctypes.CDLL(libc).malloc_trim(0)


def install() -> None:
    """Wraps `rasa run`'s agent loading (call before Rasa's main)."""
    import rasa.core.run
    import tensorflow as tf

    load = rasa.core.run.load_agent_on_start

    @functools.wraps(load)
    async def load_eagerly(*args, **kwargs):
        tf.config.run_functions_eagerly(True)
        try:
            agent = await load(*args, **kwargs)
        finally:
            tf.config.run_functions_eagerly(False)
        if agent is not None and agent.is_ready():
            await agent.parse_message(WARM_UP_TEXT)
        release_freed_memory()
        return agent

    rasa.core.run.load_agent_on_start = load_eagerly
