"""A TCP proxy between the gateway and the private broker, for network faults.

Runs an asyncio loop on its own thread. Faults, switched on and off at run time:
- stall: nothing is forwarded in either direction (new connections hang too);
- hold_down(name): bytes from the broker to connections whose AMQP handshake names `name`
  (e.g. "metrika-publisher") are held back: confirms and heartbeats never arrive;
- reset(): every open connection is closed with a TCP RST (SO_LINGER 0) on both sides;
- one_byte: every write is split into 1-byte writes (TCP_NODELAY), in both directions;
- latency: every chunk is delivered `latency` seconds after it was read, order kept.
Optionally terminates TLS (server_ssl) so that the gateway sees a given certificate.
"""

import asyncio
import logging
import socket
import struct
import threading
import time


logging.getLogger("asyncio").setLevel(logging.CRITICAL)


class Link:
    def __init__(self, proxy, client_reader, client_writer):
        self.proxy = proxy
        self.client_reader = client_reader
        self.client_writer = client_writer
        self.upstream_writer = None
        self.name = None  # connection_name sniffed from the client's start-ok
        self.sniffed = b""
        self.closed = False
        self.bytes_up = 0
        self.bytes_down = 0

    def held_down(self):
        p = self.proxy
        return p.stall or (p.hold_down_name is not None and self.name is not None and p.hold_down_name in self.name)

    def held_up(self):
        return self.proxy.stall


class FaultProxy:
    def __init__(self, listen_port, target_port, target_host="127.0.0.1", server_ssl=None):
        self.listen_port = listen_port
        self.target_port = target_port
        self.target_host = target_host
        self.server_ssl = server_ssl
        self.stall = False
        self.hold_down_name = None
        self.one_byte = False
        self.latency = 0.0
        self.links = set()
        self.accepted = 0
        self.first_bytes = []  # first bytes each client sent (to prove no plain AMQP fell through)
        self.loop = None
        self.thread = None
        self.server = None
        self._ready = threading.Event()

    # -- control (any thread) --------------------------------------------------------------

    def start(self):
        self.thread = threading.Thread(target=self._run, name=f"proxy-{self.listen_port}", daemon=True)
        self.thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("proxy did not start")
        return self

    def stop(self):
        if self.loop is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop)
        try:
            fut.result(10)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop = None

    def heal(self):
        self.stall = False
        self.hold_down_name = None
        self.one_byte = False
        self.latency = 0.0

    def reset(self):
        """Closes every open connection with an RST on both sides; returns how many."""
        fut = asyncio.run_coroutine_threadsafe(self._reset_all(), self.loop)
        return fut.result(10)

    def link_names(self):
        return [l.name for l in list(self.links)]

    # -- loop ------------------------------------------------------------------------------

    def _run(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(
            self._handle, "127.0.0.1", self.listen_port, ssl=self.server_ssl, reuse_address=True))
        self._ready.set()
        self.loop.run_forever()
        self.loop.close()

    async def _shutdown(self):
        self.server.close()
        for link in list(self.links):
            self._abort(link)
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _reset_all(self):
        n = 0
        for link in list(self.links):
            self._abort(link)
            n += 1
        return n

    def _abort(self, link):
        link.closed = True
        for w in (link.client_writer, link.upstream_writer):
            if w is None:
                continue
            sock = w.get_extra_info("socket")
            try:
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            try:
                w.transport.abort()
            except Exception:
                pass
        self.links.discard(link)

    async def _handle(self, client_reader, client_writer):
        self.accepted += 1
        link = Link(self, client_reader, client_writer)
        self.links.add(link)
        _nodelay(client_writer)
        try:
            while self.stall:
                await asyncio.sleep(0.05)
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except Exception:
            self._abort(link)
            return
        link.upstream_writer = up_writer
        _nodelay(up_writer)
        up = asyncio.ensure_future(self._pump(link, client_reader, up_writer, upward=True))
        down = asyncio.ensure_future(self._pump(link, up_reader, client_writer, upward=False))
        await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
        # One side ended: close both (gracefully unless already aborted).
        for task in (up, down):
            task.cancel()
        if not link.closed:
            link.closed = True
            for w in (client_writer, up_writer):
                try:
                    w.close()
                except Exception:
                    pass
        self.links.discard(link)

    async def _pump(self, link, reader, writer, upward):
        queue = asyncio.Queue()

        async def read_side():
            while True:
                while (link.held_up() if upward else link.held_down()):
                    await asyncio.sleep(0.02)
                try:
                    data = await reader.read(65536)
                except (ConnectionError, OSError):
                    data = b""
                if not data:
                    await queue.put(None)
                    return
                if upward:
                    link.bytes_up += len(data)
                    if link.name is None and len(link.sniffed) < 8192:
                        if not link.sniffed:
                            self.first_bytes.append(data[:8])
                        link.sniffed += data
                        for candidate in (b"metrika-consumer", b"metrika-publisher", b"metrika-retry", b"metrika-topology"):
                            if candidate in link.sniffed:
                                link.name = candidate.decode()
                else:
                    link.bytes_down += len(data)
                await queue.put((time.monotonic(), data))

        reading = asyncio.ensure_future(read_side())
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                stamp, data = item
                while (link.held_up() if upward else link.held_down()):
                    await asyncio.sleep(0.02)
                if self.latency > 0:
                    delay = stamp + self.latency - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if self.one_byte:
                    for i in range(len(data)):
                        writer.write(data[i:i + 1])
                        await writer.drain()
                else:
                    writer.write(data)
                    await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            return
        finally:
            reading.cancel()


def _nodelay(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
