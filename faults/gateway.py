"""The gateway under test as a child process: start, wait until ready, SIGTERM, kill -9, sample
its resources, and read its JSON log lines."""

import json
import os
import signal
import subprocess
import time

# Log messages written once per input message (not a sign of a hot loop).
PER_MESSAGE_MSGS = {
    "message dead-lettered", "command rejected", "duplicate message ignored", "callback overdue",
    "call reported answered after another outcome; the first decision stands",
    "missed call from a number that cannot be called back", "message cannot be applied",
    "stale subscriber version ignored",
}


def is_conn_loss(line, who):
    """A log line saying the `who` ('consumer' / 'publisher') connection failed or could not be opened."""
    msg = line.get("msg") or ""
    return msg.startswith(who + " ") and ("lost" in msg or "cannot connect" in msg)


class GatewayProcess:
    def __init__(self, binary, log_path, base_env):
        self.binary = binary
        self.log_path = log_path
        self.base_env = base_env
        self.proc = None
        self.starts = 0
        self.exits = []  # (returncode, how) of finished runs
        self.log_offset = 0

    def start(self, extra_env=None, preexec=None, wrapper=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("METRIKA_")}
        env.update(self.base_env)
        env.update(extra_env or {})
        env = {k: v for k, v in env.items() if v is not None}
        self.log_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        log = open(self.log_path, "ab")
        argv = [self.binary, "gateway"]
        if wrapper:
            argv = list(wrapper) + argv
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     preexec_fn=preexec, cwd=os.path.dirname(self.log_path))
        log.close()
        self.starts += 1
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def returncode(self):
        return None if self.proc is None else self.proc.poll()

    def wait_ready(self, timeout=60):
        """Waits for both 'consuming' and 'publishing' log lines of this run."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            msgs = {l.get("msg") for l in self.lines(since_start=True)}
            if "consuming" in msgs and "publishing" in msgs:
                return True
            if not self.alive():
                return False
            time.sleep(0.05)
        return False

    def sigterm(self, timeout=30):
        """SIGTERM; returns (returncode or None when it did not exit in time, seconds taken)."""
        if not self.alive():
            return self.proc.poll() if self.proc else None, 0.0
        t0 = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.time() - t0
        if rc is None:
            self.kill9()
        else:
            self.exits.append((rc, "sigterm"))
        return rc, took

    def kill9(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
            self.exits.append((self.proc.returncode, "kill9"))

    def wait_exit(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.exits.append((rc, "exit"))
        return rc

    def stop(self):
        if self.alive():
            rc, _ = self.sigterm(30)
            return rc
        return self.returncode()

    # -- resources -------------------------------------------------------------------------

    def resources(self):
        """{'rss_kb', 'threads', 'fds'} of the running process, or None."""
        if not self.alive():
            return None
        pid = self.proc.pid
        out = {}
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        out["rss_kb"] = int(line.split()[1])
                    elif line.startswith("Threads:"):
                        out["threads"] = int(line.split()[1])
            out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            return None
        return out

    # -- logs ------------------------------------------------------------------------------

    def raw_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()
        except OSError:
            return b""

    def lines(self, since_start=False):
        data = self.raw_log()
        if since_start:
            data = data[self.log_offset:]
        out = []
        for raw in data.splitlines():
            try:
                obj = json.loads(raw)
                if isinstance(obj, dict):
                    out.append(obj)
                    continue
            except ValueError:
                pass
            out.append({"msg": raw.decode("utf-8", "replace"), "level": "raw"})
        return out


def parse_ts(text):
    """RFC 3339 (with fractional seconds, Z) → epoch seconds; None when absent."""
    if not text:
        return None
    from datetime import datetime
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def log_rate(lines, start=None, end=None, window=5.0, detail=False):
    """Peak rate (lines/s, averaged over `window` s) of log lines that are not per-message lines;
    with `detail`, also the most frequent message in the peak window and when that window began."""
    stamped = []
    for l in lines:
        if l.get("msg") in PER_MESSAGE_MSGS:
            continue
        t = parse_ts(l.get("ts"))
        if t is None:
            continue
        if start is not None and t < start:
            continue
        if end is not None and t > end:
            continue
        stamped.append((t, l.get("msg")))
    stamped.sort(key=lambda x: x[0])
    peak = 0
    where = (0, 0)
    j = 0
    for i, (t, _) in enumerate(stamped):
        while stamped[j][0] < t - window:
            j += 1
        if i - j + 1 > peak:
            peak = i - j + 1
            where = (j, i + 1)
    if not detail:
        return peak / window
    from collections import Counter
    top = Counter(m for _, m in stamped[where[0]:where[1]]).most_common(1)
    after = None
    for t, m in stamped[:where[0] + 1]:
        if m == "gateway stopping":
            after = "after SIGTERM"
    return peak / window, (top[0][0] if top else None), after
