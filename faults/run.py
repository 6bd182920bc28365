#!/usr/bin/python3
"""Metrika gateway fault-injection suite.

Starts a private RabbitMQ node (ports 5682/5685/25682, never the main broker on 5672), runs the
release gateway against it under each fault of ../shared/RELIABILITY.md, and checks the invariants
I1–I8 from the SQLite file and the queues. Prints one line per scenario:

    scenario=<name> sent=N applied=N duplicates=0 lost=0 dead_lettered=K … result=ok|FAIL

and exits 1 when any invariant broke. Run `swift build -c release` first.

    /usr/bin/python3 faults/run.py [--quick] [--only NAME[,NAME…]] [--list] [--seed N]
                                   [--binary PATH] [--keep] [--verbose]
"""

import argparse
import atexit
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # keep the work tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
# pika encodes nested header tables recursively and the fuzz run nests them deeply: a higher
# recursion limit, and big thread stacks so that it cannot overflow the C stack.
sys.setrecursionlimit(12000)
import threading  # noqa: E402
threading.stack_size(256 * 1024 * 1024)
sys.path.insert(0, HERE)

import scenarios  # noqa: E402
import tlsutil  # noqa: E402
from broker import PrivateBroker, rabbitmq_available  # noqa: E402
from harness import GW_PASSWORD, GW_USER, Suite  # noqa: E402


LOCK_PATH = "/tmp/metrika-faults.lock"
_lock_file = None


def wait_for_other_runs(limit=2400):
    """Runs share the private node's name and ports: wait (on an exclusive lock held for the whole
    run) for any other run on this machine to finish instead of stopping its broker."""
    import fcntl
    global _lock_file
    _lock_file = open(LOCK_PATH, "w")
    deadline = time.time() + limit
    told = False
    while True:
        try:
            fcntl.flock(_lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError:
            pass
        if time.time() > deadline:
            print(f"faults: another fault run still holds {LOCK_PATH} after {limit // 60} min; giving up", file=sys.stderr)
            sys.exit(2)
        if not told:
            print(f"faults: waiting for another fault run on this machine to finish ({LOCK_PATH} is held)", flush=True)
            told = True
        time.sleep(5)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer messages and iterations (development)")
    ap.add_argument("--only", default="", help="comma-separated scenario names (prefix match)")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("METRIKA_FAULTS_SEED", "20261203")))
    ap.add_argument("--binary", default=os.environ.get("METRIKA_BINARY",
                                                       os.path.join(os.path.dirname(HERE), ".build", "release", "metrika")))
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases)")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()

    all_scenarios = scenarios.ALL
    if args.list:
        for name, fn in all_scenarios:
            print(f"{name:24} {' '.join((fn.__doc__ or '').split())}")
        return 0
    selected = all_scenarios
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        selected = [(n, f) for n, f in all_scenarios if any(n.startswith(w) for w in wanted)]
        if not selected:
            print(f"no scenario matches {args.only!r}; see --list", file=sys.stderr)
            return 2
    if not os.access(args.binary, os.X_OK):
        print(f"faults: gateway binary {args.binary} not found; run `swift build -c release` first", file=sys.stderr)
        return 2
    if not rabbitmq_available():
        print("faults: rabbitmq-server is not installed (scripts/setup.sh installs it)", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("faults: run as root (the private node runs as the rabbitmq user; some faults need root)", file=sys.stderr)
        return 2

    wait_for_other_runs()
    base = tempfile.mkdtemp(prefix="metrika-faults-")
    os.chmod(base, 0o755)
    tls = tlsutil.make_certificates(os.path.join(base, "tls"))
    broker = PrivateBroker(base, tls_files={"ca": tls["ca"], "cert": tls["server_cert"], "key": tls["server_key"]})
    state = {"completed": False, "failed": False}

    def cleanup():
        broker.cleanup()
        if not args.keep and state["completed"] and not state["failed"]:
            shutil.rmtree(base, ignore_errors=True)
        elif not state["completed"]:
            print(f"faults: interrupted; logs and databases kept in {base}", flush=True)

    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))

    t0 = time.time()
    print(f"faults: work directory {base}; starting the private RabbitMQ node {broker.node} on 127.0.0.1:{broker.amqp_port}",
          flush=True)
    broker.prepare()
    broker.start()
    broker.add_user(GW_USER, GW_PASSWORD)
    suite = Suite(broker, os.path.abspath(args.binary), base, args.quick, args.seed, args.verbose)
    suite.tls = tls
    print(f"faults: node up in {time.time() - t0:.1f} s; {len(selected)} scenarios{' (quick)' if args.quick else ''}",
          flush=True)

    results = []
    for name, fn in selected:
        s0 = time.time()
        try:
            report = fn(suite, name)
        except Exception as e:  # a harness failure is a failed scenario, not a crash of the suite
            from checks import Report
            report = Report(name)
            report.fail("harness", f"{type(e).__name__}: {e}")
            if args.verbose:
                traceback.print_exc()
            try:
                broker.await_up(120)
            except Exception:
                pass
        report.set(secs=round(time.time() - s0, 1))
        results.append(report)
        print(report.line(), flush=True)
        for v in report.violations:
            print(f"  violation: {v}", flush=True)
    failed = any(not r.ok for r in results)
    state.update(completed=True, failed=failed)
    passed = sum(1 for r in results if r.ok)
    print(f"faults: {len(results)} scenarios in {time.time() - t0:.0f} s", flush=True)
    print(f"faults: {passed} passed, {len(results) - passed} failed", flush=True)
    if failed:
        print(f"faults: logs and databases kept in {base}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
