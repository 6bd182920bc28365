"""The suite's own AMQP side (python3-pika): publishing inputs with publisher confirms (reconnecting
through broker faults) and reading the queues the gateway writes to."""

import logging
import threading
import time

import pika
import pika.data
import pika.exceptions

logging.getLogger("pika").setLevel(logging.CRITICAL)

CAPTURE_QUEUE = "faults.events"
REPLY_QUEUE = "faults.replies"
INPUT_EXCHANGES = ["rs", "telephony", "metrika.commands", "metrika.events"]


# -- raw header values (for hostile header tables) ------------------------------------------

class RawField(bytes):
    """A header value written to the wire as-is: one type octet followed by its encoding."""


_original_encode_value = pika.data.encode_value


def _encode_value(pieces, value):
    if isinstance(value, RawField):
        pieces.append(bytes(value))
        return len(value)
    return _original_encode_value(pieces, value)


pika.data.encode_value = _encode_value


def params(port, vhost, user="guest", password="guest", heartbeat=30):
    return pika.ConnectionParameters(host="127.0.0.1", port=port, virtual_host=vhost,
                                     credentials=pika.PlainCredentials(user, password),
                                     heartbeat=heartbeat, blocked_connection_timeout=None,
                                     connection_attempts=1, socket_timeout=5, stack_timeout=15)


def connect(port, vhost, retries=120, delay=0.5):
    last = None
    for _ in range(retries):
        try:
            return pika.BlockingConnection(params(port, vhost))
        except Exception as e:  # broker down or starting
            last = e
            time.sleep(delay)
    raise RuntimeError(f"cannot connect to the private broker: {last!r}")


def declare_capture(port, vhost):
    """Exchanges the inputs go to, and the suite's own durable queues: every event on
    `metrika.events` and the command replies."""
    conn = connect(port, vhost)
    ch = conn.channel()
    for ex in INPUT_EXCHANGES:
        ch.exchange_declare(ex, "topic", durable=True)
    ch.queue_declare(CAPTURE_QUEUE, durable=True)
    ch.queue_bind(CAPTURE_QUEUE, "metrika.events", "#")
    ch.queue_declare(REPLY_QUEUE, durable=True)
    conn.close()


class InputPublisher(threading.Thread):
    """Publishes messages with publisher confirms and `mandatory` set, optionally at a rate, from
    `workers` connections in parallel (a quorum queue confirms a lone publisher slowly), and
    survives broker restarts: a message whose confirm did not arrive is published again (the
    gateway deduplicates good messages; for poison the copy count is remembered)."""

    def __init__(self, port, vhost, messages, rate=None, name="inputs", workers=4, max_attempts=None):
        super().__init__(name=name, daemon=True)
        self.max_attempts = max_attempts
        self.refused = 0  # messages given up after max_attempts
        self.port = port
        self.vhost = vhost
        self.messages = messages
        self.rate = rate
        self.workers = workers
        self.attempts = {}  # index -> publishes attempted
        self.confirmed = {}  # index -> publishes confirmed
        self.errors = 0
        self.reconnects = 0
        self.paused = threading.Event()
        self.stop_flag = False
        self.error = None
        self.progress = 0
        self._next = 0
        self._lock = threading.Lock()
        self._t0 = None
        self.offset = 0  # index of messages[0] in the whole workload (for copies())

    def run(self):
        self._t0 = time.time()
        threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _take(self):
        with self._lock:
            if self._next >= len(self.messages) or self.stop_flag:
                return None
            i = self._next
            self._next += 1
            return i

    def _channel(self):
        conn = None
        deadline = time.time() + 300
        while conn is None:
            try:
                conn = pika.BlockingConnection(params(self.port, self.vhost))
            except Exception:
                if time.time() > deadline or self.stop_flag:
                    raise
                time.sleep(0.5)
        ch = conn.channel()
        ch.confirm_delivery()
        return conn, ch

    def _worker(self):
        try:
            conn, ch = self._channel()
        except Exception as e:
            self.error = e
            return
        while True:
            i = self._take()
            if i is None:
                break
            m = self.messages[i]
            if self.rate:
                delay = self._t0 + i / self.rate - time.time()
                if delay > 0:
                    time.sleep(delay)
            while True:
                while self.paused.is_set() and not self.stop_flag:
                    time.sleep(0.05)
                with self._lock:
                    self.attempts[i] = self.attempts.get(i, 0) + 1
                    if self.max_attempts and self.attempts[i] > self.max_attempts:
                        self.refused += 1
                        break
                try:
                    ch.basic_publish(m.exchange, m.routing_key, m.body, pika.BasicProperties(**m.props), mandatory=True)
                    with self._lock:
                        self.confirmed[i] = self.confirmed.get(i, 0) + 1
                        self.progress += 1
                    break
                except pika.exceptions.UnroutableError:
                    # No queue bound (yet): publish again.
                    self.errors += 1
                    time.sleep(0.2)
                except Exception:
                    self.errors += 1
                    self.reconnects += 1
                    try:
                        conn.close()
                    except Exception:
                        pass
                    time.sleep(0.3)
                    try:
                        conn, ch = self._channel()
                    except Exception as e:
                        self.error = e
                        return
        try:
            conn.close()
        except Exception:
            pass

    def copies(self, index):
        """(confirmed, attempted) publishes of message `index` of the whole workload."""
        i = index - self.offset
        if not 0 <= i < len(self.messages):
            return None
        return self.confirmed.get(i, 0), self.attempts.get(i, 0)


def publish_all(port, vhost, messages):
    p = InputPublisher(port, vhost, messages)
    p.run()
    if p.error:
        raise p.error
    return p


def queue_counts(port, vhost, queues):
    """{queue: ready count} via passive declares (None when the queue does not exist)."""
    out = {}
    try:
        conn = pika.BlockingConnection(params(port, vhost))
    except Exception:
        return {q: None for q in queues}
    try:
        for q in queues:
            ch = conn.channel()
            try:
                out[q] = ch.queue_declare(q, passive=True).method.message_count
                ch.close()
            except pika.exceptions.ChannelClosedByBroker:
                out[q] = None
    finally:
        try:
            conn.close()
        except Exception:
            pass
    return out


def drain(port, vhost, queue, idle=2.0, limit=None):
    """Takes every message from `queue`: [(method, properties, body)]."""
    conn = connect(port, vhost)
    ch = conn.channel()
    try:
        expected = ch.queue_declare(queue, passive=True).method.message_count
    except pika.exceptions.ChannelClosedByBroker:
        conn.close()
        return []
    out = []
    if expected == 0:
        conn.close()
        return out
    ch.basic_qos(prefetch_count=1000)
    last = time.time()
    for method, props, body in ch.consume(queue, auto_ack=False, inactivity_timeout=0.1):
        if method is None:
            if time.time() - last > idle:
                break
            continue
        last = time.time()
        out.append((method, props, body))
        if len(out) % 500 == 0:
            ch.basic_ack(method.delivery_tag, multiple=True)
        if len(out) >= expected or (limit and len(out) >= limit):
            break
    if out:
        ch.basic_ack(out[-1][0].delivery_tag, multiple=True)
    try:
        ch.cancel()
        conn.close()
    except Exception:
        pass
    return out
