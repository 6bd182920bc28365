"""The scenarios: each injects one fault of RELIABILITY.md while a seeded workload streams in,
heals it, drains, and checks the invariants. Each returns a `checks.Report`."""

import os
import random
import time

from harness import Run
from workload import Workload

ALL = []


def scenario(name):
    def wrap(fn):
        ALL.append((name, fn))
        return fn
    return wrap


def _wl(suite, run, full, quick, **kw):
    return Workload(seed=suite.seed + sum(map(ord, run.name)), size=suite.scale(full, quick), prefix=run.name, **kw)


def _rate(suite, full, quick):
    return suite.scale(full, quick)


# -- baseline -------------------------------------------------------------------------------

@scenario("baseline")
def baseline(suite, name):
    """No fault: the workload alone (sanity check of the suite's expectations)."""
    run = Run(suite, name).setup()
    try:
        wl = _wl(suite, run, 3000, 800)
        run.start()
        pub = run.publisher(wl.messages)
        run.finish(wl, pub)
        run.report.set(duplicate_inputs=wl.duplicates_sent)
        return run.report
    finally:
        run.cleanup()


# -- crash points ---------------------------------------------------------------------------

def _failpoint(suite, name, point):
    import amqp
    run = Run(suite, name).setup()
    try:
        rng = random.Random(suite.seed + len(name))
        wl = _wl(suite, run, 3000, 800)
        backlog, stream = wl.messages[: len(wl.messages) // 4], wl.messages[len(wl.messages) // 4:]
        crashes = suite.scale(4, 2)
        # 1. A backlog (with poison) taken in one big batch; the process dies at the first hit.
        amqp.publish_all(run.port, run.vhost, backlog)
        run.start({"METRIKA_FAILPOINT": f"{point}@1"}, ready=False)
        hit = 0
        # 2. Then messages stream in and it dies at the n-th hit, n random, again and again.
        pub = run.publisher(stream, rate=_rate(suite, 600, 400))
        pub.offset = len(backlog)
        for i in range(crashes):
            rc = run.gw.wait_exit(60)
            if rc is None:
                run.report.fail("failpoint", f"fail point {point} not reached within 60 s (is it still wired in?)")
                break
            if rc != 86:
                run.unexpected.append(f"gateway exited with {rc} instead of the fail point's 86")
            hit += 1
            last = i == crashes - 1
            env = {} if last else {"METRIKA_FAILPOINT": f"{point}@{rng.randint(5, 40)}"}
            run.start(env, ready=last)
        run.report.set(crashes=hit)
        run.finish(wl, pub)
        return run.report
    finally:
        run.cleanup()


@scenario("failpoint-before-commit")
def failpoint_before_commit(suite, name):
    """Exit (like kill -9) with a batch applied but not committed; restart."""
    return _failpoint(suite, name, "before-commit")


@scenario("failpoint-after-commit")
def failpoint_after_commit(suite, name):
    """Exit after the commit, before the multiple-ack; restart (redelivery must be deduplicated)."""
    return _failpoint(suite, name, "after-commit")


@scenario("failpoint-after-publish")
def failpoint_after_publish(suite, name):
    """Exit after publishing outbox rows, before reading their confirms; restart."""
    return _failpoint(suite, name, "after-publish")


@scenario("failpoint-after-confirm")
def failpoint_after_confirm(suite, name):
    """Exit after the confirms arrived, before the outbox rows are deleted; restart."""
    return _failpoint(suite, name, "after-confirm")


@scenario("kill9-random")
def kill9_random(suite, name):
    """kill -9 at random moments while messages stream in; restart each time."""
    run = Run(suite, name).setup()
    try:
        rng = random.Random(suite.seed + 9)
        wl = _wl(suite, run, 3000, 800)
        kills = suite.scale(8, 3)
        run.start()
        pub = run.publisher(wl.messages, rate=_rate(suite, 500, 400))
        for _ in range(kills):
            time.sleep(rng.uniform(0.3, 2.0))
            run.gw.kill9()
            run.start(ready=False)
            time.sleep(rng.uniform(0.0, 1.0))
        run.report.set(kills=kills)
        run.finish(wl, pub)
        return run.report
    finally:
        run.cleanup()


@scenario("sigterm-under-load")
def sigterm_under_load(suite, name):
    """SIGTERM while a backlog is being processed and more streams in: exit 0 within a bound,
    nothing lost (the rest is processed after a restart)."""
    import amqp
    run = Run(suite, name).setup()
    try:
        wl = _wl(suite, run, 4000, 1200)
        backlog, stream = wl.messages[: len(wl.messages) // 2], wl.messages[len(wl.messages) // 2:]
        amqp.publish_all(run.port, run.vhost, backlog)
        bound = 12.0
        stops = suite.scale(3, 2)
        pub = run.publisher(stream, rate=_rate(suite, 500, 400))
        pub.offset = len(backlog)
        worst = 0.0
        rng = random.Random(suite.seed + 15)
        for i in range(stops):
            run.start()
            time.sleep(rng.uniform(0.05, 0.5))
            before = run.inbox_count()
            rc, took = run.gw.sigterm(bound + 20)
            worst = max(worst, took)
            if rc != 0 or took > bound:
                run.report.fail("I6", f"SIGTERM under load: exit {rc} after {took:.1f} s (want 0 within {bound:.0f} s)")
            time.sleep(0.5)
        run.report.set(stops=stops, stop_s=round(worst, 1))
        run.start()
        run.finish(wl, pub)
        return run.report
    finally:
        run.cleanup()


# -- broker faults --------------------------------------------------------------------------

def _wait_reconnected(run, since, timeout, which=("consuming", "publishing"), node_restarted=False):
    """Seconds from `since` until the connections (`which`) logged up again, or None.

    With `node_restarted` (the broker node or its application was restarted, so no connection of
    before can still be open) the broker's own list of client connections counts too: the gateway's
    named consumer and publisher connections in the run's vhost are a reconnection, whatever the log
    shows at that moment."""
    from gateway import parse_ts
    wanted_names = {"consuming": "metrika-consumer", "publishing": "metrika-publisher"}
    deadline = time.time() + timeout
    next_broker_look = 0.0
    while time.time() < deadline:
        up = {w: None for w in which}
        for line in run.gw.lines():
            t = parse_ts(line.get("ts"))
            if t and t >= since and line.get("msg") in up:
                up[line["msg"]] = t
        if all(up.values()):
            return max(up.values()) - since
        if node_restarted and time.time() >= next_broker_look:
            next_broker_look = time.time() + 1.0
            try:
                names = {name for name, _ in run.suite.broker.connections(run.vhost)}
            except Exception:  # the node is still booting: rabbitmqctl cannot reach it yet
                names = set()
            if all(wanted_names[w] in names for w in which):
                return time.time() - since
        time.sleep(0.2)
    return None


def _connection_story(run, since, limit=12):
    """The gateway's connection-state log lines from `since` on (seconds relative to it), for a
    violation message: what the gateway was doing while it did not reconnect."""
    from gateway import parse_ts
    story = []
    for line in run.gw.lines():
        t = parse_ts(line.get("ts"))
        msg = line.get("msg", "")
        if t and t >= since - 5 and any(word in msg for word in ("consum", "publish", "connect", "stopp", "fail")):
            story.append(f"{t - since:+.1f}s {msg} ({line.get('error', '')})")
    return "; ".join(story[-limit:]) or "no connection-state lines logged"


@scenario("broker-restart")
def broker_restart(suite, name):
    """rabbitmqctl stop_app / start_app while messages stream in."""
    run = Run(suite, name).setup()
    b = suite.broker
    try:
        wl = _wl(suite, run, 3000, 800)
        run.start()
        pub = run.publisher(wl.messages, rate=_rate(suite, 400, 300))
        worst = 0
        for i in range(suite.scale(2, 1)):
            time.sleep(1.5)
            b.stop_app()
            time.sleep(4)
            t = time.time()
            b.start_app()
            took = _wait_reconnected(run, t, 40, node_restarted=True)
            if took is None:
                run.report.fail("I6", "the gateway did not reconnect within 40 s after start_app: " + _connection_story(run, t))
            else:
                worst = max(worst, took)
        run.report.set(reconnect_s=round(worst, 1))
        run.finish(wl, pub)
        return run.report
    finally:
        run.cleanup()


@scenario("broker-crash")
def broker_crash(suite, name):
    """kill -9 of the broker's VM while messages stream in; the node is started again."""
    run = Run(suite, name).setup()
    b = suite.broker
    try:
        wl = _wl(suite, run, 3000, 800)
        run.start()
        pub = run.publisher(wl.messages, rate=_rate(suite, 400, 300))
        time.sleep(2)
        b.crash()
        time.sleep(2)
        # The gateway may connect while `start` still waits for `rabbitmqctl await_startup`, so the
        # reconnection is looked for from the moment the node is launched, and timed from when it was up.
        launched = time.time()
        b.start()
        up = time.time()
        took = _wait_reconnected(run, launched, 60, node_restarted=True)
        if took is None:
            run.report.fail("I6", "the gateway did not reconnect within 60 s after the broker came back: "
                            + _connection_story(run, launched))
        else:
            run.report.set(reconnect_s=round(max(0.0, took - (up - launched)), 1))
        run.finish(wl, pub)
        return run.report
    finally:
        run.cleanup()


@scenario("close-connection-loop")
def close_connection_loop(suite, name):
    """rabbitmqctl close_connection on the consumer and the publisher connection, many times,
    while messages stream; RSS, fds and threads must stay flat (I7)."""
    from harness import Sampler
    run = Run(suite, name).setup()
    b = suite.broker
    try:
        # Each round closes both connections; 500 rounds = 1000 forced reconnects.
        rounds = int(os.environ.get("METRIKA_FAULTS_CLOSE_ROUNDS", suite.scale(500, 40)))
        chunks = 5
        # Messages stream all through the loop (about 0.4 s per round), so that every connection does
        # some work before it is closed: the gateway resets its back-off only for connections that did.
        rate = 60.0
        wl = _wl(suite, run, max(600, int(rounds * 0.45 * rate)), max(600, int(rounds * 0.45 * rate)))
        run.start()
        pub = run.publisher(wl.messages, rate=rate)
        # The literal CLI first, once per connection.
        literal = 0
        r = b.ctl("list_connections", "-p", run.vhost, "pid", "client_properties", "--no-table-headers", "--quiet")
        for line in r.stdout.splitlines():
            if "metrika-consumer" in line or "metrika-publisher" in line:
                pid = line.split("\t", 1)[0]
                b.ctl("close_connection", pid, "fault suite: rabbitmqctl close_connection")
                literal += 1
        sampler = Sampler(run.gw)
        sampler.start()
        closed = missed = 0
        marks = []
        per_chunk = max(1, rounds // chunks)
        for c in range(chunks):
            cl, mi = b.close_connections_loop(run.vhost, ["metrika-consumer", "metrika-publisher"], per_chunk)
            closed += cl
            missed += mi
            time.sleep(1.0)  # settle: both connections back up
            _wait_reconnected(run, time.time() - 1.0, 20)
            res = run.gw.resources()
            if res:
                marks.append(res)
        sampler.stop_flag = True
        run.report.set(closes=closed + literal, missed=missed)
        if missed:
            run.report.fail("I6", f"{missed} times a connection was not back within 30 s of being closed")
        if len(marks) >= 3:
            warm, end = marks[1], marks[-1]
            run.report.set(rss_kb=f"{warm['rss_kb']}->{end['rss_kb']}", fds=f"{warm['fds']}->{end['fds']}",
                           threads=f"{warm['threads']}->{end['threads']}")
            if end["fds"] > warm["fds"] + 3:
                run.report.fail("I7", f"file descriptors grew from {warm['fds']} to {end['fds']}")
            if end["threads"] > warm["threads"] + 2:
                run.report.fail("I7", f"threads grew from {warm['threads']} to {end['threads']}")
            if end["rss_kb"] > warm["rss_kb"] * 1.5 + 8192:
                run.report.fail("I7", f"RSS grew from {warm['rss_kb']} kB to {end['rss_kb']} kB")
        run.finish(wl, pub)
        return run.report
    finally:
        run.cleanup()


# -- network faults through the suite's TCP proxy -------------------------------------------

PROXY_PORT = 5683


def _proxied_run(suite, name, heartbeat=5):
    from harness import amqp_url
    from proxy import FaultProxy
    proxy = FaultProxy(PROXY_PORT, suite.broker.amqp_port).start()
    run = Run(suite, name, heartbeat=heartbeat)
    run.env["METRIKA_AMQP_URL"] = amqp_url(PROXY_PORT, run.vhost)
    run.gw.base_env = run.env
    run.proxy = proxy
    return run.setup()


def _first_log_after(run, since, who, timeout=0):
    """Seconds from `since` to the first log line saying the `who` connection failed, or None."""
    from gateway import is_conn_loss, parse_ts
    deadline = time.time() + timeout
    while True:
        for line in run.gw.lines():
            t = parse_ts(line.get("ts"))
            if t and t >= since and is_conn_loss(line, who):
                return t - since
        if time.time() >= deadline:
            return None
        time.sleep(0.2)


@scenario("net-stall")
def net_stall(suite, name):
    """Nothing crosses the proxy for longer than 3 heartbeats (heartbeat 5 s); then it heals."""
    run = _proxied_run(suite, name, heartbeat=5)
    try:
        wl = _wl(suite, run, 3000, 800)
        run.start()
        pub = run.publisher(wl.messages, rate=_rate(suite, 250, 150))
        time.sleep(2)
        t = time.time()
        run.proxy.stall = True
        stall = suite.scale(20, 17)
        time.sleep(stall)
        lost_consumer = _first_log_after(run, t, "consumer")
        lost_publisher = _first_log_after(run, t, "publisher")
        for what, took in (("consumer", lost_consumer), ("publisher", lost_publisher)):
            if took is None or took > 3 * run.heartbeat + 2:
                run.report.fail("I6", f"the {what} did not notice a {stall} s stall within 3 heartbeats ({took})")
        h = time.time()
        run.proxy.heal()
        back = _wait_reconnected(run, h, 40)
        if back is None:
            run.report.fail("I6", "the gateway did not reconnect within 40 s after the stall healed")
        run.report.set(stall_s=stall, detect_s=max(x or 0 for x in (lost_consumer, lost_publisher)).__round__(1),
                       reconnect_s=round(back or -1, 1))
        run.finish(wl, pub)
        return run.report
    finally:
        run.cleanup()
        run.proxy.stop()


@scenario("net-confirms-lost")
def net_confirms_lost(suite, name):
    """Publisher confirms never arrive (the proxy holds everything the broker sends to the
    publisher connection); heartbeat 60 s so that the gateway's own confirm timeout must act."""
    run = _proxied_run(suite, name, heartbeat=60)
    try:
        wl = _wl(suite, run, 2000, 600)
        run.start()
        pub = run.publisher(wl.messages, rate=_rate(suite, 200, 150))
        time.sleep(2)
        t = time.time()
        run.proxy.hold_down_name = "metrika-publisher"
        hold = 40
        gave_up = _first_log_after(run, t, "publisher", timeout=hold)
        if gave_up is None:
            run.report.fail("I6", f"the publisher waited more than {hold} s for confirms that never came")
        consumed_during = run.inbox_count()
        time.sleep(max(0, t + hold - time.time()))
        run.proxy.heal()
        back = _wait_reconnected(run, time.time() - 1, 40, which=("publishing",))
        if back is None:
            run.report.fail("I6", "the publisher did not reconnect within 40 s after confirms flowed again")
        run.report.set(hold_s=hold, gave_up_s=round(gave_up or -1, 1), inbox_during=consumed_during)
        run.finish(wl, pub)
        return run.report
    finally:
        run.cleanup()
        run.proxy.stop()


@scenario("net-reset")
def net_reset(suite, name):
    """TCP resets (RST on both sides) of every gateway connection, repeatedly."""
    run = _proxied_run(suite, name)
    try:
        wl = _wl(suite, run, 3000, 800)
        run.start()
        pub = run.publisher(wl.messages, rate=_rate(suite, 400, 250))
        resets = 0
        for _ in range(suite.scale(6, 3)):
            time.sleep(1.2)
            resets += run.proxy.reset()
        run.report.set(resets=resets)
        run.finish(wl, pub)
        return run.report
    finally:
        run.cleanup()
        run.proxy.stop()


@scenario("net-one-byte")
def net_one_byte(suite, name):
    """Every write split into 1-byte TCP segments, both ways, from the handshake on."""
    run = _proxied_run(suite, name)
    try:
        wl = _wl(suite, run, 1200, 400)
        run.proxy.one_byte = True
        run.start()
        pub = run.publisher(wl.messages, rate=_rate(suite, 100, 80))
        time.sleep(8)
        during = run.inbox_count()
        if not during:
            run.report.fail("I6", "nothing was processed through 1-byte segments")
        run.proxy.heal()
        run.report.set(inbox_during=during)
        run.finish(wl, pub)
        return run.report
    finally:
        run.cleanup()
        run.proxy.stop()


@scenario("net-latency")
def net_latency(suite, name):
    """300 ms added to every chunk in both directions, from the handshake on."""
    run = _proxied_run(suite, name)
    try:
        wl = _wl(suite, run, 2000, 600)
        run.proxy.latency = 0.3
        run.start()
        pub = run.publisher(wl.messages, rate=_rate(suite, 250, 200))
        pub.join(120)
        drained = run.wait_drained(pub, 120)
        run.report.set(latency_ms=300, drain_under_latency_s=round(drained or -1, 1))
        run.proxy.heal()
        run.finish(wl, pub)
        return run.report
    finally:
        run.cleanup()
        run.proxy.stop()


# -- broker resource alarm ------------------------------------------------------------------

def _split(wl, fraction):
    n = int(len(wl.messages) * fraction)
    return wl.messages[:n], wl.messages[n:]


@scenario("memory-alarm")
def memory_alarm(suite, name):
    """set_vm_memory_high_watermark absolute 10MiB (publishers blocked) while a backlog waits;
    the consumer must keep consuming; then the watermark is restored."""
    import amqp
    run = Run(suite, name).setup()
    b = suite.broker
    try:
        wl = _wl(suite, run, 3000, 800)
        first, rest = _split(wl, 0.7)
        amqp.publish_all(run.port, run.vhost, first)
        b.ctl("set_vm_memory_high_watermark", "absolute", "10MiB")
        try:
            run.start()
            hold = suite.scale(15, 10)
            time.sleep(hold)
            during = run.inbox_count() or 0
            outbox = run.outbox_depth()
            good_first = len({m.mid for m in first if m.kind == "good"})
            if during < good_first:
                run.report.fail("I6", f"during the memory alarm the consumer applied only {during} of {good_first} waiting inputs")
            run.report.set(alarm_s=hold, inbox_during=during, outbox_during=outbox)
        finally:
            b.ctl("set_vm_memory_high_watermark", "0.4")
        pub = run.publisher(rest)
        pub.offset = len(first)
        run.finish(wl, pub)
        return run.report
    finally:
        run.cleanup()


# -- SQLite faults --------------------------------------------------------------------------

@scenario("sqlite-locked")
def sqlite_locked(suite, name):
    """Another process holds BEGIN EXCLUSIVE for 8 s (> the 5 s busy timeout) while messages stream."""
    import sqlite3
    run = Run(suite, name).setup()
    try:
        wl = _wl(suite, run, 3000, 800)
        run.start()
        pub = run.publisher(wl.messages, rate=_rate(suite, 300, 200))
        time.sleep(2)
        before = run.inbox_count()
        db = sqlite3.connect(run.db_path, timeout=30, isolation_level=None)
        t = time.time()
        db.execute("BEGIN EXCLUSIVE")
        hold = 8
        time.sleep(hold)
        depths = suite.broker.queue_depths(run.vhost)
        unacked = sum(u for q, (r, u) in depths.items() if q.startswith("metrika.") and q != "metrika.dead")
        db.execute("COMMIT")
        db.close()
        run.fault_windows.append((t, t + hold))
        if run.inbox_count() is None:
            run.report.fail("harness", "cannot read the database after the lock")
        run.report.set(lock_s=hold, unacked_during=unacked, inbox_before=before)
        run.finish(wl, pub)
        return run.report
    finally:
        run.cleanup()


@scenario("sqlite-readonly")
def sqlite_readonly(suite, name):
    """The database file is read-only when the gateway (re)starts: no input may be acknowledged
    unless it was postponed to a delay queue; once the file is writable again and the gateway
    restarted, nothing is lost."""
    run = Run(suite, name).setup()
    try:
        wl = _wl(suite, run, 2000, 600)
        first, rest = _split(wl, 0.5)
        run.start()
        pub = run.publisher(first)
        pub.join(120)
        run.wait_drained(pub, 60)
        run.gw.sigterm(20)
        files = [p for p in (run.db_path, run.db_path + "-wal", run.db_path + "-shm") if os.path.exists(p)]
        for p in files:
            os.chmod(p, 0o444)
        # As root the mode would be ignored: drop CAP_DAC_OVERRIDE for this run.
        wrapper = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]
        inbox_before = run.inbox_count()
        run.start(ready=False, wrapper=wrapper)
        pub2 = run.publisher(rest)
        pub2.join(120)
        time.sleep(6)
        rc = run.gw.returncode()
        reason = next((l for l in run.gw.lines(since_start=True) if l.get("level") in ("error", "raw")), {})
        if run.gw.alive():
            run.gw.sigterm(20)
        # Inputs must still be queued: in their input queue or postponed to a delay queue (a message
        # moving from a delay queue back to its input queue is briefly in neither: take the largest
        # of a few counts).
        waiting = 0
        for _ in range(5):
            waiting = max(waiting, sum(run.busy_queues().values()))
            time.sleep(0.5)
        expected_waiting = len(rest)
        if run.inbox_count() != inbox_before:
            run.report.fail("I1", "the inbox changed while the database was read-only")
        if waiting < expected_waiting:
            run.report.fail("I1", f"only {waiting} of {expected_waiting} inputs still queued: some were acknowledged without a commit")
        text = (reason.get("error") or reason.get("msg") or "")[:120]
        if "readonly" not in text.lower().replace("-", "").replace(" ", "") and "read-only" not in text.lower():
            run.report.fail("I6", f"no clear read-only reason logged (first error: {text!r})")
        run.report.set(readonly_exit=rc if rc is not None else "running", queued_during=waiting)
        for p in files:
            if os.path.exists(p):
                os.chmod(p, 0o600)
        run.start()
        pub2.offset = len(first)
        run.finish(wl, pub2)
        return run.report
    finally:
        run.cleanup()


def _mount_tmpfs(path, size_mb):
    import subprocess
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", path],
                       capture_output=True, text=True)
    return r.returncode == 0


def _umount(path):
    import subprocess
    subprocess.run(["umount", "-l", path], capture_output=True)


def _fill(directory):
    """Fills the file system of `directory` completely; returns the filler's path."""
    path = os.path.join(directory, "filler")
    chunk = b"\0" * (1 << 20)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (len(chunk), 4096, 1):
            block = chunk[:size]
            try:
                while os.write(fd, block) > 0:
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)
    return path


@scenario("sqlite-full")
def sqlite_full(suite, name):
    """The disk under the database fills up (a small tmpfs; RLIMIT_FSIZE where mounting is not
    allowed) while messages stream; then space comes back."""
    import resource
    import signal as sig
    run = Run(suite, name)
    fs = os.path.join(run.dir, "fs")
    mounted = _mount_tmpfs(fs, 64)
    run.db_path = os.path.join(fs if mounted else run.dir, "metrika.sqlite")
    run.env["METRIKA_DB"] = run.db_path
    run.setup()
    try:
        wl = _wl(suite, run, 3000, 800)

        def ignore_xfsz():
            sig.signal(sig.SIGXFSZ, sig.SIG_IGN)

        run.start(preexec=None if mounted else ignore_xfsz)
        pub = run.publisher(wl.messages, rate=_rate(suite, 300, 200))
        time.sleep(2)
        t = time.time()
        if mounted:
            filler = _fill(fs)
        else:
            size = max(os.path.getsize(p) for p in (run.db_path, run.db_path + "-wal") if os.path.exists(p))
            resource.prlimit(run.gw.pid, resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))
        hold = 8
        time.sleep(hold)
        errors = [l for l in run.gw.lines() if l.get("msg") == "cannot commit a batch; retrying"]
        if mounted:
            os.unlink(filler)
        else:
            resource.prlimit(run.gw.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        run.fault_windows.append((t, t + hold))
        run.report.set(method="tmpfs" if mounted else "rlimit", full_s=hold, commit_errors=len(errors))
        if not errors:
            run.report.fail("harness", "the full disk did not make any commit fail")
        run.finish(wl, pub)
        return run.report
    finally:
        run.cleanup()
        if mounted:
            _umount(fs)


# -- security -------------------------------------------------------------------------------

WRONG_PASSWORD = "Wr0ng:faults/pw@#%"


def _leaks(raw, secrets):
    import urllib.parse
    return [s for s in secrets if s.encode() in raw or urllib.parse.quote(s, safe="").encode() in raw]


def _observe_refusal(run, seconds):
    """Watches a gateway that cannot get in: must stay up (or exit non-zero), log a clear reason,
    and not spin."""
    from gateway import log_rate
    t = time.time()
    time.sleep(seconds)
    lines = run.gw.lines(since_start=True)
    # The first seconds of an exponential back-off are busy by design: judge the second half.
    rate = tail_rate(lines, t + seconds / 2, time.time())
    alive = run.gw.alive()
    return lines, rate, alive


def tail_rate(lines, start, end):
    """Lines per second (not per-message ones) logged between `start` and `end`."""
    from gateway import PER_MESSAGE_MSGS, parse_ts
    n = 0
    for l in lines:
        t = parse_ts(l.get("ts"))
        if t and start <= t <= end and l.get("msg") not in PER_MESSAGE_MSGS:
            n += 1
    return n / max(0.001, end - start)


@scenario("wrong-password")
def wrong_password(suite, name):
    """A wrong password: refused with a clear reason, no hot loop, no password in the logs; then
    the right password from METRIKA_AMQP_PASSWORD_FILE, and everything is processed."""
    from gateway import is_conn_loss
    from harness import GW_PASSWORD, GW_USER, amqp_url
    run = Run(suite, name).setup()
    try:
        wl = _wl(suite, run, 1500, 400)
        pub = run.publisher(wl.messages)
        run.start({"METRIKA_AMQP_URL": amqp_url(run.port, run.vhost, password=WRONG_PASSWORD)}, ready=False)
        lines, rate, alive = _observe_refusal(run, suite.scale(20, 8))
        reasons = [l for l in lines if "log in" in (l.get("error") or "") or "ACCESS_REFUSED" in (l.get("error") or "")]
        if not reasons:
            run.report.fail("I6", "no clear 'cannot log in' reason in the log")
        if not alive and run.gw.returncode() == 0:
            run.report.fail("I6", "the gateway exited 0 although it never got in")
        if rate > 1:
            run.report.fail("I6", f"{rate:.1f} log lines/s in the second half of the refusal: back-off not applied")
        if run.inbox_count():
            run.report.fail("I8", "something was consumed with a wrong password")
        leaked = _leaks(run.gw.raw_log(), [WRONG_PASSWORD, GW_PASSWORD])
        if leaked:
            run.report.fail("I8", "a password appears in the log")
        delays = [float(l["retry_in_s"]) for l in lines if is_conn_loss(l, "consumer") and l.get("retry_in_s")]
        if delays:
            run.report.set(backoff_s=f"{min(delays):.2f}..{max(delays):.2f}")
            if max(delays) > 15.5:
                run.report.fail("I6", f"reconnect back-off reached {max(delays):.1f} s (cap 15 s)")
            if len(delays) >= 4 and len(set(delays)) == 1:
                run.report.fail("I6", "reconnect back-off has no jitter")
        run.report.set(refused_log_rate=round(rate, 2), refusals=len(reasons))
        if run.gw.alive():
            run.gw.sigterm(20)
        pw_file = os.path.join(run.dir, "password")
        with open(pw_file, "w") as f:
            f.write(GW_PASSWORD + "\n")
        os.chmod(pw_file, 0o600)
        env = {"METRIKA_AMQP_URL": amqp_url(run.port, run.vhost, password="placeholder-not-used"),
               "METRIKA_AMQP_PASSWORD_FILE": pw_file}
        run.env.update(env)
        run.start()
        run.finish(wl, pub)
        return run.report
    finally:
        run.cleanup()


@scenario("no-permission-events")
def no_permission_events(suite, name):
    """The gateway's user may not write to metrika.events: events wait in the outbox (nothing lost,
    no hot loop, consuming goes on); once permission is granted they are published."""
    from harness import amqp_url
    run = Run(suite, name).setup()
    b = suite.broker
    user, pw = "metrika-noperm", "NoPerm:faults-pw"
    try:
        b.add_user(user, pw)
        b.set_permissions(run.vhost, user, ".*", "^(?!metrika\\.events$).*", ".*")
        wl = _wl(suite, run, 2000, 500)
        run.env["METRIKA_AMQP_URL"] = amqp_url(run.port, run.vhost, user=user, password=pw)
        run.start(ready=False)
        pub = run.publisher(wl.messages, rate=_rate(suite, 300, 200))
        t = time.time()
        hold = suite.scale(15, 10)
        time.sleep(hold)
        rate = tail_rate(run.gw.lines(), t + hold / 2, time.time())
        refused = [l for l in run.gw.lines() if "ACCESS_REFUSED" in (l.get("error") or "") or "403" in (l.get("error") or "")]
        during = run.inbox_count() or 0
        outbox = run.outbox_depth()
        from gateway import is_conn_loss
        reconnects = sum(1 for l in run.gw.lines() if is_conn_loss(l, "publisher"))
        run.report.set(denied_s=hold, inbox_during=during, outbox_during=outbox, publisher_reconnects=reconnects,
                       denied_log_rate=round(rate, 1))
        if not refused:
            run.report.fail("I6", "no ACCESS_REFUSED reason in the log")
        if rate > 1:
            run.report.fail("I6", f"{rate:.1f} log lines/s while the events exchange is refused "
                                  f"({reconnects} publisher reconnects in {hold} s): back-off not applied")
        if during == 0:
            run.report.fail("I6", "consuming stopped while publishing was refused")
        b.set_permissions(run.vhost, user, ".*", ".*", ".*")
        run.finish(wl, pub)
        if _leaks(run.gw.raw_log(), [pw]):
            run.report.fail("I8", "the password appears in the log")
        return run.report
    finally:
        run.cleanup()
        b.ctl("delete_user", user, check=False)


# -- TLS ------------------------------------------------------------------------------------

TLS_PROXY_PORT = 5686


def _tls_refusal(suite, name, url_port, ca, server=None, expect=("tls", "ssl", "certificate", "verify")):
    """The gateway pointed at a TLS endpoint it must refuse: it stays up (or exits non-zero), logs
    a TLS reason, never connects in plain, never consumes."""
    from harness import amqp_url
    from proxy import FaultProxy
    import tlsutil
    proxy = None
    if server:
        proxy = FaultProxy(TLS_PROXY_PORT, suite.broker.amqp_port,
                           server_ssl=tlsutil.server_context(*server)).start()
    run = Run(suite, name).setup()
    try:
        wl = _wl(suite, run, 300, 100)
        import amqp
        amqp.publish_all(run.port, run.vhost, wl.messages)
        run.env["METRIKA_AMQP_URL"] = amqp_url(url_port, run.vhost, scheme="amqps", host="localhost")
        run.env["METRIKA_AMQP_CA_FILE"] = ca
        run.start(ready=False)
        lines, rate, alive = _observe_refusal(run, suite.scale(8, 6))
        conns = [c for c in suite.broker.connections(run.vhost)]
        errors = " ".join((l.get("error") or "") + " " + (l.get("msg") or "") for l in lines).lower()
        if any(l.get("msg") in ("consuming", "publishing") for l in lines):
            run.report.fail("I8", "the gateway connected although TLS verification must fail")
        if conns:
            run.report.fail("I8", f"{len(conns)} gateway connections reached the broker (plain fallback?)")
        if run.inbox_count():
            run.report.fail("I8", "messages were consumed over an unverified connection")
        if not any(word in errors for word in expect):
            first = next((l.get("error") for l in lines if l.get("error")), None)
            run.report.fail("I8", f"no clear TLS reason in the log (first error: {first!r})")
        if not alive and run.gw.returncode() == 0:
            run.report.fail("I8", "the gateway exited 0 after a TLS failure")
        if rate > 1:
            run.report.fail("I6", f"{rate:.1f} log lines/s in the second half of the TLS refusal: back-off not applied")
        first = next((l.get("error") for l in lines if l.get("error")), "") or ""
        run.report.set(refused=int(not conns), tls_log_rate=round(rate, 2), reason=_kv(first))
        if proxy:
            run.report.set(tls_handshakes=proxy.accepted)
        run.gw.sigterm(20)
        run.check_logs()
        run.report.set(sent=len(wl.messages), applied=0, dead_lettered=0)
        return run.report
    finally:
        run.cleanup()
        if proxy:
            proxy.stop()


def _kv(text):
    """A short, space-free rendering of a log reason for the scenario line."""
    text = text.split(": ", 1)[-1] if ": " in text else text
    return "'" + "_".join(text.split())[:60] + "'"


@scenario("tls-ok")
def tls_ok(suite, name):
    """Control: amqps:// to the node's TLS listener with the right CA and host name works."""
    from harness import amqp_url
    run = Run(suite, name).setup()
    try:
        wl = _wl(suite, run, 600, 200)
        run.env["METRIKA_AMQP_URL"] = amqp_url(suite.broker.tls_port, run.vhost, scheme="amqps", host="localhost")
        run.env["METRIKA_AMQP_CA_FILE"] = suite.tls["ca"]
        run.start()
        pub = run.publisher(wl.messages)
        run.finish(wl, pub)
        return run.report
    finally:
        run.cleanup()


@scenario("tls-wrong-ca")
def tls_wrong_ca(suite, name):
    """The broker's certificate is not signed by the configured CA: refused."""
    return _tls_refusal(suite, name, suite.broker.tls_port, suite.tls["other_ca"])


@scenario("tls-wrong-host")
def tls_wrong_host(suite, name):
    """A certificate for another host name (signed by the right CA): refused."""
    return _tls_refusal(suite, name, TLS_PROXY_PORT, suite.tls["ca"],
                        server=(suite.tls["wronghost_cert"], suite.tls["wronghost_key"]))


@scenario("tls-expired")
def tls_expired(suite, name):
    """An expired certificate for localhost (signed by the right CA): refused."""
    return _tls_refusal(suite, name, TLS_PROXY_PORT, suite.tls["ca"],
                        server=(suite.tls["expired_cert"], suite.tls["expired_key"]))


@scenario("tls-plain-port")
def tls_plain_port(suite, name):
    """amqps:// pointed at the plain AMQP port: refused, never falls back to plain."""
    return _tls_refusal(suite, name, suite.broker.amqp_port, suite.tls["ca"],
                        expect=("tls", "ssl", "handshake", "certificate", "wrong version", "protocol"))


# -- randomised decoder test ----------------------------------------------------------------

@scenario("fuzz-decoder")
def fuzz_decoder(suite, name):
    """Thousands of mutated valid messages (bodies, properties, header tables): each must be
    processed or dead-lettered with a reason, and the gateway must stay up throughout."""
    import hashlib
    import json as _json
    from collections import Counter
    import amqp
    import checks
    from fuzz import EXTRA_REPLY_QUEUES, REPLACED_REPLY_QUEUE, Fuzzer, depth_ok as _depth_ok
    run = Run(suite, name).setup()
    try:
        fz = Fuzzer(suite.seed + 77, suite.scale(3000, 600))
        msgs = fz.build()
        reply_queues = EXTRA_REPLY_QUEUES + [REPLACED_REPLY_QUEUE]
        conn = amqp.connect(run.port, run.vhost)
        ch = conn.channel()
        for q in reply_queues:
            ch.queue_declare(q, durable=True)
        conn.close()
        run.start()
        pub = amqp.InputPublisher(run.port, run.vhost, msgs, workers=4, max_attempts=3)
        pub.start()
        pub.join(900)
        drained = run.wait_drained(pub, 240)
        if drained is not None:
            run.report.set(drain_s=round(drained, 1))
        restarts_before = run.report.fields.get("restarts", 0)
        rc, took = run.gw.sigterm(30)
        if rc != 0:
            run.report.fail("I6", f"SIGTERM after the fuzz run: exit {rc} after {took:.1f} s")
        db = checks.read_db(run.db_path)
        cap = checks.Captured.read(run.port, run.vhost, amqp.drain, reply_queues)
        checks.check_outbound(run.report, db, cap)
        # Each confirmed message: dead-lettered with a reason, or applied (its body id in the inbox).
        dead = {}
        broker_parked = Counter()
        for method, props, body in cap.dead:
            h = props.headers or {}
            s = hashlib.sha256(body).hexdigest()
            if checks.broker_dead(props):
                broker_parked[s] += 1
            else:
                dead.setdefault(s, []).append(h)
        sent = applied = dead_lettered = lost = parked = no_reason = 0
        unaccounted = []
        classes = Counter()
        parked_by = Counter()
        for idx, m in enumerate(msgs):
            confirmed, _ = pub.copies(idx)
            if not confirmed:
                continue
            sent += 1
            s = hashlib.sha256(m.body).hexdigest()
            if s in dead:
                dead_lettered += 1
                h = dead[s][0]
                cls = h.get("x-metrika-error-class")
                cls = cls.decode() if isinstance(cls, bytes) else cls
                classes[cls] += 1
                if not h.get("x-metrika-error"):
                    no_reason += 1
                continue
            if broker_parked.get(s):
                parked += 1
                parked_by[fz.mutation.get(s, "?")] += 1
                continue
            ids = set()

            def hook(pairs):
                for k, v in pairs:
                    if k in ("event_id", "command_id") and isinstance(v, str):
                        ids.add(v)
                return dict(pairs)
            if _depth_ok(m.body):
                try:
                    _json.loads(m.body.decode("utf-8", "surrogatepass"), object_pairs_hook=hook)
                except Exception:
                    pass
            if ids & db["inbox"]:
                applied += 1
            else:
                unaccounted.append((idx, m))
        # Bodies Python cannot read but Swift could: they must account for the remaining inbox rows.
        extra_rows = len(db["inbox"]) - applied
        for idx, m in unaccounted:
            if extra_rows > 0:
                extra_rows -= 1
                applied += 1
            else:
                lost += 1
        if lost:
            sample = unaccounted[0][1]
            run.report.fail("I1", f"{lost} fuzzed messages were neither applied nor dead-lettered "
                                  f"(e.g. mutation {fz.mutation.get(hashlib.sha256(sample.body).hexdigest())}, "
                                  f"body {sample.body[:80]!r})")
        if parked:
            run.report.fail("I5", f"{parked} fuzzed messages were parked by the broker's delivery limit "
                                  f"(the gateway failed on them repeatedly) instead of dead-lettered with a reason; "
                                  f"mutations: {', '.join(f'{k}={v}' for k, v in parked_by.most_common(8))}")
        if no_reason:
            run.report.fail("I5", f"{no_reason} dead letters have no x-metrika-error text")
        if run.report.fields.get("restarts", 0) > restarts_before or run.unexpected:
            run.report.fail("crash", "the gateway did not stay up during the fuzz run")
        run.report.set(sent=sent, applied=applied, duplicates=0, lost=lost + parked, dead_lettered=dead_lettered,
                       broker_refused=pub.refused,
                       classes=",".join(f"{k}:{v}" for k, v in sorted(classes.items())))
        run.check_logs()
        return run.report
    finally:
        run.cleanup()


@scenario("poison-header")
def poison_header(suite, name):
    """One message whose header table has an empty field name (valid AMQP that rabbitmq-c 0.11 refuses to
    copy), among hundreds of good ones in the same prefetch window: the consumer connection must stay up,
    the message must be applied or dead-lettered alone, and every good message must be applied."""
    import amqp
    run = Run(suite, name).setup()
    try:
        wl = _wl(suite, run, 1200, 400, poison_ratio=0)
        good = [m for m in wl.messages if m.kind == "good"]
        half = len(good) // 2
        hostile = good[half]
        hostile.props = dict(hostile.props, headers={"": "empty field name", "x-ok": 1})
        hostile.kind = "hostile"
        wl.good_ids.discard(hostile.mid)
        amqp.publish_all(run.port, run.vhost, wl.messages)
        run.start()
        db, cap = run.finish(wl, None)
        handled = hostile.mid in db["inbox"] or any(
            (p.headers or {}).get("x-metrika-original-message-id") == hostile.props.get("message_id") for _, p, _ in cap.dead)
        import checks
        parked = [p for _, p, _ in cap.dead if checks.broker_dead(p)]
        from gateway import is_conn_loss
        drops = sum(1 for l in run.gw.lines() if is_conn_loss(l, "consumer"))
        run.report.set(consumer_drops=drops, broker_parked_total=len(parked))
        if drops:
            run.report.fail("I5", f"one hostile header table dropped the consumer connection {drops} times "
                                  f"({next((l.get('error') for l in run.gw.lines() if is_conn_loss(l, 'consumer')), '')})")
        if not handled and not parked:
            run.report.fail("I1", "the hostile message was neither applied nor dead-lettered")
        return run.report
    finally:
        run.cleanup()
