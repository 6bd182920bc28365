"""The invariants I1–I5 (and the resource and log parts of I6–I8), checked after a scenario from
the SQLite file and from the queues the gateway wrote to."""

import hashlib
import json
import sqlite3
from collections import Counter, defaultdict

from amqp import CAPTURE_QUEUE, REPLY_QUEUE

DEAD_HEADERS = ["x-metrika-error-class", "x-metrika-error", "x-metrika-attempts", "x-metrika-failed-at",
                "x-metrika-original-exchange", "x-metrika-original-routing-key", "x-metrika-original-queue"]


def sha(body):
    return hashlib.sha256(body).hexdigest()


def parked_transient(props):
    """A message the gateway parked in the dead-letter queue after its transient-failure retries
    (published directly, not through the outbox)."""
    c = (props.headers or {}).get("x-metrika-error-class")
    return (c.decode() if isinstance(c, bytes) else c) == "transient_failure"


def broker_dead(props):
    """Whether a message on the dead-letter queue was put there by the broker (delivery limit,
    rejection, expiry) rather than by the gateway: the broker adds an x-death array."""
    h = props.headers or {}
    return isinstance(h.get("x-death"), list) or "x-first-death-reason" in h


class Report:
    """Counters and violations of one scenario."""

    def __init__(self, name):
        self.name = name
        self.fields = {}
        self.violations = []

    def set(self, **kw):
        self.fields.update(kw)

    def add(self, key, n=1):
        self.fields[key] = self.fields.get(key, 0) + n

    def fail(self, invariant, text):
        self.violations.append(f"{invariant}: {text}")

    @property
    def ok(self):
        return not self.violations

    def line(self):
        head = ["sent", "applied", "duplicates", "lost", "dead_lettered"]
        parts = [f"scenario={self.name}"]
        for k in head:
            parts.append(f"{k}={self.fields.get(k, 0)}")
        for k, v in self.fields.items():
            if k not in head:
                parts.append(f"{k}={v}")
        parts.append("result=" + ("ok" if self.ok else "FAIL"))
        return " ".join(parts)


def read_db(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    db.row_factory = sqlite3.Row
    try:
        out = {
            # Inputs only: the gateway also claims fingerprints of dead-lettered bodies ("dead-letter:…").
            "inbox": {r["message_id"] for r in db.execute("SELECT message_id FROM inbox WHERE type != 'dead-letter'")},
            "inbox_rows": db.execute("SELECT COUNT(*) FROM inbox WHERE type != 'dead-letter'").fetchone()[0],
            "dead": [dict(r) for r in db.execute("SELECT * FROM dead_letters")],
            "tickets": [dict(r) for r in db.execute("SELECT ticket_id, state, kind, call_id, contact_phone, callback_id, body FROM tickets")],
            "calls": {r["call_id"]: dict(r) for r in db.execute("SELECT * FROM calls")},
            "callbacks": [dict(r) for r in db.execute("SELECT * FROM callbacks")],
            "subscribers": {r["rs_id"]: r["version"] for r in db.execute("SELECT rs_id, version FROM subscribers")},
            "phones": defaultdict(set),
            "outbox": db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0],
            "outbox_seq": 0,
        }
        for r in db.execute("SELECT phone, rs_id FROM subscriber_phones"):
            out["phones"][r["rs_id"]].add(r["phone"])
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        out["outbox_seq"] = row[0] if row else 0
        return out
    finally:
        db.close()


class Captured:
    """What the gateway published, read from the suite's queues and the dead-letter queue."""

    def __init__(self, events, dead, replies):
        self.events = events
        self.dead = dead
        self.replies = replies

    @staticmethod
    def read(port, vhost, drain, extra_reply_queues=()):
        replies = drain(port, vhost, REPLY_QUEUE)
        for q in extra_reply_queues:
            replies += drain(port, vhost, q)
        return Captured(drain(port, vhost, CAPTURE_QUEUE), drain(port, vhost, "metrika.dead"), replies)

    def all(self):
        return self.events + self.dead + self.replies


def check_outbound(report, db, cap):
    """I3 (every outbox row ever committed was published and reached a queue) and I4 (copies of
    one message_id carry identical bytes)."""
    by_id = defaultdict(list)
    own_no_id = 0
    # Dead letters made by the broker (delivery limit) are inputs, not outbox rows: left out here.
    own = cap.events + cap.replies + [d for d in cap.dead if not broker_dead(d[1]) and not parked_transient(d[1])]
    for method, props, body in own:
        if props.message_id is None:
            own_no_id += 1
            continue
        by_id[props.message_id].append((method.routing_key, body))
    copies = sum(len(v) for v in by_id.values())
    distinct = len(by_id)
    report.set(events=distinct, event_dups=copies - distinct)
    if db["outbox"] != 0:
        report.fail("I3", f"{db['outbox']} outbox rows still unpublished after draining")
    expected = db["outbox_seq"]
    own_distinct = distinct
    if own_distinct < expected:
        report.fail("I3", f"{expected - own_distinct} of {expected} owed messages never reached a queue")
        report.add("events_lost", expected - own_distinct)
    elif own_distinct > expected:
        report.fail("I3", f"{own_distinct} distinct message ids seen but only {expected} outbox rows were ever written")
    if own_no_id:
        report.fail("I4", f"{own_no_id} published messages carry no message_id")
    bad = [mid for mid, v in by_id.items() if len({b for _, b in v}) > 1 or len({rk for rk, _ in v}) > 1]
    if bad:
        report.fail("I4", f"{len(bad)} message ids were published with different bodies, e.g. {bad[0]}")


def check_workload(report, wl, db, cap, publisher=None, extra_good=()):
    """I1, I2, I5 and the event-level part of I3 for a `Workload`."""
    # I1: every good id has its effect (an inbox row).
    good = set(wl.good_ids) | set(extra_good)
    applied = len(good & db["inbox"])
    missing = good - db["inbox"]
    broker_dead_bodies = Counter(sha(b) for _, p, b in cap.dead if broker_dead(p))
    body_of = {}
    for m in wl.messages:
        if m.kind == "good":
            body_of[m.mid] = sha(m.body)
    parked = {mid for mid in missing if broker_dead_bodies.get(body_of.get(mid))}
    transient_bodies = Counter(sha(b) for _, p, b in cap.dead if parked_transient(p) and not broker_dead(p))
    gave_up = {mid for mid in missing - parked if transient_bodies.get(body_of.get(mid))}
    if gave_up:
        report.fail("I1", f"{len(gave_up)} good inputs were parked after exhausting their transient-failure retries")
        report.set(transient_parked=len(gave_up))
    parked |= gave_up
    lost = len(missing - parked)
    if lost:
        report.fail("I1", f"{lost} confirmed inputs have no effect, e.g. {sorted(missing - parked)[0]}")
    if parked:
        report.fail("I1", f"{len(parked)} good inputs were parked by the broker's delivery limit instead of applied")
    if db["inbox_rows"] != len(db["inbox"]):
        report.fail("I2", "duplicate inbox rows")

    # I1/I2 for poison: exactly one dead letter per published copy.
    copies = {}
    if publisher is not None:
        for idx, m in enumerate(wl.messages):
            if m.kind == "poison":
                got = publisher.copies(idx)
                if got is None:
                    continue  # published by another (synchronous, confirmed-once) step
                c, a = got
                lo, hi = copies.get(m.mid, (0, 0))
                copies[m.mid] = (lo + c, hi + a)
    dead_by_id = Counter(wl.poison_alias.get(d["message_id"], d["message_id"]) for d in db["dead"])
    poison_lost = poison_doubled = 0
    for pid in wl.poison:
        lo, hi = copies.get(pid, (1, 1))
        n = dead_by_id.get(pid, 0)
        if n < max(lo, 1 if hi else 0):
            poison_lost += 1
        elif n > hi:
            poison_doubled += n - hi
    if poison_lost:
        report.fail("I1", f"{poison_lost} poison messages have no dead-letter entry")
    if poison_doubled:
        report.fail("I2", f"{poison_doubled} extra dead-letter entries for poison that was published once "
                          f"(e.g. {next(p for p in wl.poison if dead_by_id.get(p, 0) > copies.get(p, (1, 1))[1])})")

    # I2: one decision and one ticket per call; one callback per number with every missed call counted.
    tickets_by_call = Counter(t["call_id"] for t in db["tickets"] if t["call_id"])
    doubled = sum(n - 1 for n in tickets_by_call.values() if n > 1)
    # A callback ticket holds the first missed call; later calls join (no ticket of their own).
    for call_id in wl.answered_calls:
        if tickets_by_call.get(call_id, 0) == 0 and call_id in db["calls"]:
            report.fail("I1", f"answered call {call_id} has a decision but no ticket")
            break
    open_by_phone = Counter(c["phone"] for c in db["callbacks"] if c["status"] == "open")
    cb_by_phone = defaultdict(list)
    for c in db["callbacks"]:
        cb_by_phone[c["phone"]].append(c)
    miscounted = 0
    for phone, calls in wl.missed_by_phone.items():
        cbs = cb_by_phone.get(phone, [])
        if len(cbs) > 1:
            doubled += len(cbs) - 1
        if not cbs:
            if all(c not in db["calls"] for c in calls):
                continue  # counted as lost inputs already
            report.fail("I1", f"missed calls from {phone} opened no callback")
            continue
        applied_calls = sum(1 for c in calls if c in db["calls"])
        if cbs[0]["missed_count"] != applied_calls:
            miscounted += 1
    if miscounted:
        report.fail("I2", f"{miscounted} callbacks have a missed_count that differs from their distinct missed calls")
    if any(n > 1 for n in open_by_phone.values()):
        report.fail("I2", "a number has more than one open callback")
    markers = Counter()
    for t in db["tickets"]:
        try:
            comment = json.loads(t["body"]).get("comment") or ""
        except ValueError:
            comment = ""
        if comment.startswith("faults-cmd:"):
            markers[comment] += 1
    doubled += sum(n - 1 for n in markers.values() if n > 1)
    for cid, marker in wl.create_commands.items():
        if cid in db["inbox"] and markers.get(marker, 0) == 0:
            report.fail("I1", f"ticket.create {cid} was consumed but created no ticket")
            break
    stale = sum(1 for rs_id, (v, phones) in wl.subscribers.items()
                if rs_id in db["subscribers"] and (db["subscribers"][rs_id] != v or db["phones"].get(rs_id, set()) != phones))
    if stale:
        report.fail("I1", f"{stale} subscribers do not hold their highest version's data")
    if doubled:
        report.fail("I2", f"{doubled} doubled effects (tickets per call, callbacks per number, tickets per command)")

    # I3 at event level: each effect's events reached the events queue.
    ev_ids_by_type = defaultdict(set)
    drafted_tickets = defaultdict(set)
    needed = defaultdict(set)
    rejected_cmds = set()
    for method, props, body in cap.events:
        try:
            e = json.loads(body)
        except ValueError:
            report.fail("I4", "an event body is not JSON")
            continue
        ev_ids_by_type[e.get("type")].add(e.get("event_id"))
        if e.get("event_id") != props.message_id:
            report.fail("I4", f"event {e.get('event_id')} published with message_id {props.message_id}")
        if e.get("type") in ("ticket.drafted", "ticket.saved"):
            drafted_tickets[(e.get("ticket") or {}).get("ticket_id")].add(e.get("event_id"))
        elif e.get("type") == "callback.needed":
            needed[e.get("callback_id")].add(e.get("event_id"))
        elif e.get("type") == "command.rejected":
            rejected_cmds.add(e.get("command_id"))
    missing_events = 0
    for t in db["tickets"]:
        if t["kind"] in ("call", "callback", "manual") and not drafted_tickets.get(t["ticket_id"]):
            missing_events += 1
    for c in db["callbacks"]:
        if len(needed.get(c["callback_id"], ())) != c["missed_count"] and c["origin"] == "missed_call":
            missing_events += 1
    for cid in wl.reject_commands:
        if cid in db["inbox"] and cid not in rejected_cmds:
            missing_events += 1
    replies = {}
    for method, props, body in cap.replies:
        try:
            r = json.loads(body)
        except ValueError:
            continue
        replies[r.get("command_id")] = r
        if props.correlation_id != "corr-" + str(r.get("command_id")):
            report.fail("I4", f"reply to {r.get('command_id')} has correlation_id {props.correlation_id}")
    for cid in list(wl.create_commands) + list(wl.reject_commands):
        if cid in db["inbox"] and cid not in replies:
            missing_events += 1
    if missing_events:
        report.fail("I3", f"{missing_events} effects have no matching event or reply on a queue")

    # I5: dead letters carry the headers and the original body.
    sent_body = {pid: v[0] for pid, v in wl.poison.items()}
    bad_headers = bad_body = 0
    seen_dead = set()
    for method, props, body in cap.dead:
        h = props.headers or {}
        if broker_dead(props) or parked_transient(props):
            continue  # parked by the broker (delivery limit) or after retries, accounted above
        if any(k not in h for k in DEAD_HEADERS) or not h.get("x-metrika-error"):
            bad_headers += 1
        orig = h.get("x-metrika-original-message-id")
        if isinstance(orig, bytes):
            orig = orig.decode("utf-8", "replace")
        orig = wl.poison_alias.get(orig, orig)
        if orig in sent_body:
            seen_dead.add(orig)
            if sent_body[orig] != body:
                bad_body += 1
    if bad_headers:
        report.fail("I5", f"{bad_headers} dead letters lack x-metrika-* headers")
    if bad_body:
        report.fail("I5", f"{bad_body} dead letters do not carry the original body")
    unseen = [p for p in wl.poison if dead_by_id.get(p) and p not in seen_dead]
    if unseen:
        report.fail("I5", f"{len(unseen)} dead-lettered poison messages never reached metrika.dead")

    report.set(sent=wl.sent, applied=applied, duplicates=doubled + poison_doubled,
               lost=lost + poison_lost + len(parked), dead_lettered=len(db["dead"]))
    if parked:
        report.set(broker_parked=len(parked))
