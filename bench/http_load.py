"""An HTTP/1.1 load generator on asyncio streams: cheap enough per request to drive the web
tier from the same 2-core machine. Each request opens its own connection, as gunicorn's
sync workers close it after answering."""

import asyncio
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    status: int
    ms: float


async def _post(host: str, port: int, path: str, body: bytes) -> Result:
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        await reader.read()  # to the end: the answer is complete
        writer.close()
    except (OSError, ValueError, IndexError):
        status = 0
    return Result(status, (time.perf_counter() - started) * 1000)


async def _open_loop(host, port, requests, rate):
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    for i, (path, body) in enumerate(requests):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_post(host, port, path, body)))
    return await asyncio.gather(*tasks)


async def _closed_loop(host, port, requests, concurrency):
    queue = list(reversed(requests))
    results = []

    async def client():
        while queue:
            path, body = queue.pop()
            results.append(await _post(host, port, path, body))

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return results


def open_loop(
    url_host: str, port: int, requests: list[tuple[str, bytes]], rate: float
) -> tuple[list[Result], float]:
    """Send ``requests`` at ``rate`` per second whatever the answers; (results, seconds)."""
    started = time.perf_counter()
    results = asyncio.run(_open_loop(url_host, port, requests, rate))
    return results, time.perf_counter() - started


def closed_loop(
    url_host: str, port: int, requests: list[tuple[str, bytes]], concurrency: int
) -> tuple[list[Result], float]:
    """Send ``requests`` from ``concurrency`` clients, each waiting for its answer."""
    started = time.perf_counter()
    results = asyncio.run(_closed_loop(url_host, port, requests, concurrency))
    return results, time.perf_counter() - started
