"""What every scenario shares: a vhost and a database of its own, the gateway process, the input
stream, draining, and the final checks."""

import os
import threading
import time
import urllib.parse

import amqp
import checks
from gateway import GatewayProcess, log_rate

# Largest write-ahead log a scenario may leave behind (I7): 40,000 pages of 4 KiB plus frame headers, and a
# batch on top.
WAL_LIMIT_BYTES = 256 * 1024 * 1024

GW_USER = "metrika-gw"
# Special characters on purpose: percent-encoded in the URL; must never reach a log.
GW_PASSWORD = "Fx7:faults/S3cr3t@pw#%"


class Suite:
    """Suite-wide settings and the private broker."""

    def __init__(self, broker, binary, base, quick, seed, verbose):
        self.broker = broker
        self.binary = binary
        self.base = base
        self.quick = quick
        self.seed = seed
        self.verbose = verbose
        self.reports = []

    def scale(self, full, quick):
        return quick if self.quick else full

    def log(self, *args):
        if self.verbose:
            print(time.strftime("%H:%M:%S"), *args, flush=True)


def amqp_url(port, vhost, user=GW_USER, password=GW_PASSWORD, scheme="amqp", host="127.0.0.1"):
    q = lambda s: urllib.parse.quote(s, safe="")
    return f"{scheme}://{q(user)}:{q(password)}@{host}:{port}/{q(vhost)}"


class Sampler(threading.Thread):
    """Samples the gateway's RSS, threads and fds every `period` seconds."""

    def __init__(self, gw, period=0.5):
        super().__init__(daemon=True)
        self.gw = gw
        self.period = period
        self.samples = []
        self.stop_flag = False

    def run(self):
        while not self.stop_flag:
            r = self.gw.resources()
            if r:
                r["t"] = time.time()
                self.samples.append(r)
            time.sleep(self.period)


class Run:
    """One scenario: its own vhost, database, log file and report."""

    def __init__(self, suite, name, heartbeat=5, extra_env=None):
        self.suite = suite
        self.name = name
        self.report = checks.Report(name)
        self.vhost = f"faults-{name}"
        self.dir = os.path.join(suite.base, name)
        os.makedirs(self.dir, exist_ok=True)
        self.db_path = os.path.join(self.dir, "metrika.sqlite")
        self.log_path = os.path.join(self.dir, "gateway.log")
        self.port = suite.broker.amqp_port
        self.heartbeat = heartbeat
        self.env = {
            "METRIKA_AMQP_URL": amqp_url(self.port, self.vhost),
            "METRIKA_DB": self.db_path,
            "METRIKA_AMQP_HEARTBEAT": str(heartbeat),
            "METRIKA_LOG_LEVEL": "info",
            # The operations HTTP server stays on, on a free port (no clash with anything on 8080).
            "METRIKA_HTTP_PORT": "0",
        }
        self.env.update(extra_env or {})
        self.gw = GatewayProcess(suite.binary, self.log_path, self.env)
        self.t0 = time.time()
        self.expected_exits = 0  # fail points and kill -9 the scenario caused itself
        self.unexpected = []
        self.fault_windows = []  # (start, end) epoch seconds
        self.first_resources = None
        self.wal_max = 0

    # -- set-up ----------------------------------------------------------------------------

    def setup(self):
        b = self.suite.broker
        b.delete_vhost(self.vhost)
        b.add_vhost(self.vhost)
        b.set_permissions(self.vhost, GW_USER, ".*", ".*", ".*")
        amqp.declare_capture(self.port, self.vhost)
        self.topology()
        return self

    def topology(self, env=None):
        import subprocess
        e = {k: v for k, v in os.environ.items() if not k.startswith("METRIKA_")}
        e.update(self.env)
        e.update(env or {})
        e["METRIKA_AMQP_URL"] = amqp_url(self.port, self.vhost)
        r = subprocess.run([self.suite.binary, "topology"], env=e, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"metrika topology failed: {r.stderr.strip()}")

    def start(self, extra_env=None, ready=True, **kw):
        self.gw.start(extra_env, **kw)
        if ready and not self.gw.wait_ready(60):
            self.unexpected.append(f"gateway not ready within 60 s (exit {self.gw.returncode()})")
        if ready and self.first_resources is None:
            self.first_resources = self.gw.resources()
        return self.gw

    def note_wal(self):
        wal = self.db_path + "-wal"
        try:
            self.wal_max = max(self.wal_max, os.path.getsize(wal))
        except OSError:
            pass

    def publisher(self, messages, rate=None):
        p = amqp.InputPublisher(self.port, self.vhost, messages, rate=rate)
        p.start()
        return p

    # -- waiting ---------------------------------------------------------------------------

    def outbox_depth(self):
        import sqlite3
        try:
            db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=1)
            try:
                return db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error:
            return None

    def inbox_count(self):
        import sqlite3
        try:
            db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=1)
            try:
                return db.execute("SELECT COUNT(*) FROM inbox WHERE type != 'dead-letter'").fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error:
            return None

    def ensure_running(self, restart_env=None):
        """Restarts the gateway when it is not running; an exit the scenario did not cause is recorded."""
        if not self.gw.alive():
            rc = self.gw.returncode()
            self.report.add("restarts")
            if self.expected_exits > 0:
                self.expected_exits -= 1
            else:
                self.unexpected.append(f"gateway exited with status {rc} on its own")
            self.start(restart_env)

    def busy_queues(self):
        """{queue: ready + unacked} of the gateway's own queues (inputs and delay queues) that are not empty."""
        depths = self.suite.broker.queue_depths(self.vhost)
        own = lambda q: (q.startswith("metrika.") or q in ("asterisk_cdr", "asterisk_cel")) and q != "metrika.dead"
        return {q: r + u for q, (r, u) in depths.items() if own(q) and r + u > 0}

    def wait_drained(self, publisher=None, timeout=180, restart_env=None):
        """Waits until the inputs are published, every input and delay queue is empty (nothing
        unacked) and the outbox is empty. Returns seconds waited, or None on timeout."""
        t0 = time.time()
        queues = ["metrika.rs", "metrika.telephony", "metrika.commands"]
        while time.time() - t0 < timeout:
            self.ensure_running(restart_env)
            self.note_wal()
            if publisher is not None and publisher.is_alive():
                time.sleep(0.2)
                continue
            counts = amqp.queue_counts(self.port, self.vhost, queues)
            if all(v == 0 for v in counts.values()) and self.outbox_depth() == 0:
                if not self.busy_queues() and self.outbox_depth() == 0:
                    return time.time() - t0
            time.sleep(0.3)
        self.report.fail("I6", f"backlog not drained within {timeout} s "
                               f"(queues {self.busy_queues()}, outbox {self.outbox_depth()})")
        return None

    # -- finishing -------------------------------------------------------------------------

    def finish(self, wl=None, publisher=None, drain_timeout=180, restart_env=None, stop_bound=15.0,
               skip_workload=False):
        """Drains, stops the gateway with SIGTERM, checks every invariant, returns the report."""
        r = self.report
        if publisher is not None:
            publisher.join(600)
            if publisher.error:
                r.fail("harness", f"input publisher failed: {publisher.error!r}")
        drained = self.wait_drained(publisher, drain_timeout, restart_env)
        if drained is not None:
            r.set(drain_s=round(drained, 1))
        end = self.gw.resources()
        if self.first_resources and end and "fds" not in r.fields:
            r.set(fds=f"{self.first_resources['fds']}->{end['fds']}",
                  threads=f"{self.first_resources['threads']}->{end['threads']}")
        postponed = sum(1 for l in self.gw.lines() if l.get("msg") == "batch postponed to the delay queues")
        if postponed:
            r.set(postponed_batches=postponed)
        self.note_wal()
        rc, took = self.gw.sigterm(stop_bound + 15)
        if rc != 0 or took > stop_bound:
            r.fail("I6", f"SIGTERM after draining: exit {rc} after {took:.1f} s (want 0 within {stop_bound:.0f} s)")
        db = checks.read_db(self.db_path)
        cap = checks.Captured.read(self.port, self.vhost, amqp.drain)
        if wl is not None and not skip_workload:
            checks.check_workload(r, wl, db, cap, publisher)
        checks.check_outbound(r, db, cap)
        self.check_logs()
        self.check_wal()
        return db, cap

    def check_logs(self):
        r = self.report
        raw = self.gw.raw_log()
        pw = GW_PASSWORD.encode()
        if pw in raw or urllib.parse.quote(GW_PASSWORD, safe="").encode() in raw:
            r.fail("I8", "the gateway's password appears in its log")
        for u in self.unexpected:
            r.fail("crash", u)
        lines = self.gw.lines()
        peak, top, when = log_rate(lines, detail=True)
        r.set(log_peak=round(peak, 1))
        if peak > 20:
            r.fail("I6", f"{peak:.1f} log lines/s (5 s average), mostly '{top}'{' ' + when if when else ''}: hot loop")
        for marker in (b"Fatal error", b"Illegal instruction", b"Segmentation fault", b"Assertion failed",
                       b"Current stack trace", b"*** Signal"):
            if marker in raw:
                r.fail("crash", f"'{marker.decode()}' in the gateway's output")
                break

    def check_wal(self):
        try:
            mode = os.stat(self.db_path).st_mode & 0o777
            if mode & 0o077:
                self.report.fail("I8", f"the database file has mode {mode:o} (want 600)")
        except OSError:
            pass
        self.note_wal()
        self.report.set(wal_max_kb=self.wal_max // 1024)
        # The gateway lets SQLite checkpoint at 40,000 pages (about 160 MiB of log with the frame headers)
        # and checkpoints itself when idle; one large batch may come on top of that.
        if self.wal_max > WAL_LIMIT_BYTES:
            self.report.fail("I7", f"WAL grew to {self.wal_max // (1024 * 1024)} MiB "
                                   f"(limit {WAL_LIMIT_BYTES // (1024 * 1024)} MiB)")

    def cleanup(self):
        if self.gw.alive():
            self.gw.kill9()
        self.suite.broker.delete_vhost(self.vhost)
