"""pytest setup for the aioipfs client tests (tests/clients/test_aioipfs.py).

run.sh starts ``ferrite daemon`` and exports FERRITE_API_MADDR (the multiaddr it wrote to
``$FERRITE_PATH/api``); without it these tests error out rather than skip.
"""
from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
#: Kubo's answers for the fixtures, shared with the JS tests.
V = json.loads((HERE / "vectors.json").read_text())
#: How long one test may talk to the daemon before it counts as hung.
TIMEOUT = 60


def big_bytes() -> bytes:
    """The 1,000,000-byte multi-block file of V["big"]: byte i = (7*i + 3) % 251."""
    return bytes((7 * i + 3) % 251 for i in range(V["big"]["length"]))


@pytest.fixture(scope="session")
def api_maddr() -> str:
    maddr = os.environ.get("FERRITE_API_MADDR")
    if not maddr:
        pytest.fail("FERRITE_API_MADDR is not set: run through tests/clients/run.sh (it starts the daemon)")
    return maddr


@pytest.fixture
def ipfs(api_maddr):
    """Runs ``body(client)`` with a fresh aioipfs client on a fresh event loop, and returns its result."""
    import aioipfs

    def run(body):
        async def main():
            client = aioipfs.AsyncIPFS(maddr=api_maddr)
            try:
                return await asyncio.wait_for(body(client), TIMEOUT)
            finally:
                await client.close()
        return asyncio.run(main())
    return run
