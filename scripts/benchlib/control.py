"""The control channel of a simulated-guest process (benchlib/vtpm_guests.py,
benchlib/keylime_agents.py): commands on stdin, one per line. `counts` prints the process's counters
as one JSON line; `quit` or the end of stdin ends the process at once."""
from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Callable


async def answer(counts: Callable[[], list[int]], errors: list[str]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "quit":
            os._exit(0)
        if line.strip() == "counts":
            print(json.dumps({"counts": counts(), "errors": errors[:20], "error_count": len(errors)}), flush=True)
