"""Seeded workloads in the formats of CONTRACTS.md, with what the gateway must end up with.

A workload mixes subscribers (several versions each, sent out of order), answered calls
(`call.answered` + `call.ended`, either order), missed calls (several per number, so callbacks are
joined), operator commands (`ticket.create` with a reply queue, `ticket.save` of an unknown ticket),
exact duplicates and poison. It is built so that the end state does not depend on the order the
gateway sees the messages in (numbers of answered and missed calls are disjoint), which is what
lets the checks be exact under redelivery and reordering.
"""

import json
import random
import uuid
from datetime import datetime, timedelta, timezone

MSK = timezone(timedelta(hours=3))


class Msg:
    __slots__ = ("exchange", "routing_key", "body", "props", "kind", "mid", "key")

    def __init__(self, exchange, routing_key, body, props, kind, mid, key=None):
        self.exchange = exchange
        self.routing_key = routing_key
        self.body = body  # bytes
        self.props = props  # dict for pika.BasicProperties
        self.kind = kind  # 'good' | 'poison' | 'fuzz'
        self.mid = mid  # body id for good messages, poison id (AMQP message_id) for poison
        self.key = key  # free-form: call_id, phone, command marker…


def _ts(dt):
    return dt.isoformat(timespec="seconds")


def _digits(rng, n):
    return "".join(rng.choice("0123456789") for _ in range(n))


def phone_formats(rng, national):
    """A national 10-digit number as a person might type it."""
    n = national
    return rng.choice([
        f"+7 ({n[0:3]}) {n[3:6]}-{n[6:8]}-{n[8:10]}",
        f"8 {n[0:3]} {n[3:6]} {n[6:8]} {n[8:10]}",
        f"8{n}",
        f"7{n}",
        n,
        f"+7{n}",
    ])


class Workload:
    """`messages` in sending order plus the expectations the checks use."""

    def __init__(self, seed, size=2000, poison_ratio=0.03, dup_ratio=0.1, prefix="w", commands=True,
                 reply_queue="faults.replies"):
        self.rng = random.Random(seed)
        self.seed = seed
        self.prefix = prefix
        self.reply_queue = reply_queue
        self.messages = []
        # expectations
        self.good_ids = set()
        self.poison = {}  # poison id -> (body, exchange, routing_key, error hint)
        self.poison_alias = {}  # body id of a poison message -> its poison id
        self.answered_calls = {}  # call_id -> e164
        self.missed_by_phone = {}  # e164 -> set(call_id)
        self.subscribers = {}  # rs_id -> (max version, set(e164 phones))
        self.create_commands = {}  # command_id -> marker comment
        self.reject_commands = set()  # command ids that must be rejected (unknown_ticket)
        self.duplicates_sent = 0
        self._build(size, poison_ratio, dup_ratio, commands)

    # -- generation ------------------------------------------------------------------------

    def _id(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _national(self, used):
        while True:
            n = "9" + _digits(self.rng, 9)
            if n not in used:
                used.add(n)
                return n

    def _props(self, mid=None, reply_to=None, correlation_id=None):
        p = {"content_type": "application/json", "delivery_mode": 2}
        if mid is not None:
            p["message_id"] = mid
        if reply_to:
            p["reply_to"] = reply_to
            p["correlation_id"] = correlation_id
        return p

    def _add_good(self, exchange, rk, body_obj, key=None, set_mid=True, reply_to=None):
        mid = body_obj.get("event_id") or body_obj.get("command_id")
        body = json.dumps(body_obj, ensure_ascii=self.rng.random() < 0.3).encode()
        props = self._props(mid if set_mid and self.rng.random() < 0.7 else None,
                            reply_to, ("corr-" + mid) if reply_to else None)
        m = Msg(exchange, rk, body, props, "good", mid, key)
        self.good_ids.add(mid)
        return m

    def _build(self, size, poison_ratio, dup_ratio, commands):
        rng = self.rng
        now = datetime.now(MSK).replace(microsecond=0)
        used = set()
        groups = []  # lists of messages that belong together (shuffled as units, inner order random)

        n_poison = max(1, int(size * poison_ratio)) if poison_ratio > 0 else 0
        n_good = size - n_poison
        n_dups = int(n_good * dup_ratio)
        base = n_good - n_dups
        # Budget: subscribers 15 %, answered calls 40 % (2 msgs each), missed 30 %, commands 15 %.
        n_subs_msgs = int(base * 0.15)
        n_answer_calls = int(base * 0.40) // 2
        n_missed = int(base * 0.30)
        n_cmds = base - n_subs_msgs - 2 * n_answer_calls - n_missed if commands else 0
        if not commands:
            n_missed += base - n_subs_msgs - 2 * n_answer_calls - n_missed

        # Subscribers: 1-3 versions each, sent in random order; phones may change between versions.
        rs_base = 100000 + rng.randrange(800000)
        sub_phones = []
        count = 0
        i = 0
        while count < n_subs_msgs:
            rs_id = rs_base + i
            i += 1
            versions = sorted(rng.sample(range(1, 10000), rng.randint(1, 3)))[: n_subs_msgs - count]
            phones = [self._national(used) for _ in range(rng.randint(1, 2))]
            sub_phones.extend(phones)
            best = None
            for v in versions:
                if rng.random() < 0.3:
                    phones = phones[:1] + [self._national(used)]
                    sub_phones.append(phones[-1])
                body = {
                    "event_id": self._id(), "type": "subscriber.updated", "occurred_at": _ts(now - timedelta(days=1)),
                    "version": v,
                    "subscriber": {
                        "rs_id": rs_id, "contract_no": f"Д-2019/{rs_id}", "full_name": f"Абонент {rs_id} «тест»",
                        "address": f"г. Пермь, ул. Ленина, д. {i % 200}, кв. {i % 97}",
                        "phones": [phone_formats(rng, p) for p in phones],
                        "tariff": {"name": rng.choice(["Домашний 500", "Турбо 1000", "Эконом"]), "since": "2026-03-01"},
                        "switch": f"sw-perm-{i % 50}", "status": rng.choice(["active", "suspended", "terminated"]),
                    },
                }
                groups.append([self._add_good("rs", "subscriber.updated", body, key=rs_id)])
                count += 1
                best = (v, {"+7" + p for p in phones})
            self.subscribers[rs_id] = best

        # Answered calls: numbers from subscribers' phones or fresh ones; never missed numbers.
        answered_pool = sub_phones[: len(sub_phones) // 2] + [self._national(used) for _ in range(max(10, n_answer_calls // 3))]
        for i in range(n_answer_calls):
            call_id = f"{self.prefix}.{int(now.timestamp())}.{i}a{rng.randrange(10**6)}"
            national = rng.choice(answered_pool)
            direction = rng.choice(["inbound", "outbound"])
            op = f"op.{rng.choice(['petrova', 'ivanov', 'sidorova', 'kuznetsov'])}"
            t0 = now - timedelta(minutes=rng.randrange(1, 600))
            answered_at = t0 + timedelta(seconds=rng.randrange(2, 30))
            number = phone_formats(rng, national) if rng.random() < 0.3 else rng.choice([f"8{national}", national])
            a = {"event_id": self._id(), "type": "call.answered", "call_id": call_id, "direction": direction,
                 "subscriber_number": number, "line": "+73422000000", "operator": op, "answered_at": _ts(answered_at)}
            e = {"event_id": self._id(), "type": "call.ended", "call_id": call_id, "direction": direction,
                 "subscriber_number": number, "line": "+73422000000", "operator": op, "started_at": _ts(t0),
                 "answered_at": _ts(answered_at), "ended_at": _ts(answered_at + timedelta(seconds=rng.randrange(10, 900))),
                 "outcome": "answered"}
            pair = [self._add_good("telephony", "call.answered", a, key=call_id),
                    self._add_good("telephony", "call.ended", e, key=call_id)]
            rng.shuffle(pair)  # either order
            groups.append(pair)
            self.answered_calls[call_id] = "+7" + national

        # Missed calls: 1-4 per number (joins), some from subscribers' numbers.
        missed_numbers = []
        remaining = n_missed
        spare_sub = sub_phones[len(sub_phones) // 2:]
        while remaining > 0:
            national = spare_sub.pop() if spare_sub and rng.random() < 0.3 else self._national(used)
            k = min(remaining, rng.randint(1, 4))
            remaining -= k
            missed_numbers.append((national, k))
        for n_idx, (national, k) in enumerate(missed_numbers):
            e164 = "+7" + national
            self.missed_by_phone[e164] = set()
            for j in range(k):
                call_id = f"{self.prefix}.{int(now.timestamp())}.{n_idx}m{j}.{rng.randrange(10**6)}"
                ended = now - timedelta(minutes=rng.randrange(1, 10), seconds=rng.randrange(60))
                body = {"event_id": self._id(), "type": "call.ended", "call_id": call_id, "direction": "inbound",
                        "subscriber_number": rng.choice([f"8{national}", national, f"+7{national}"]),
                        "line": "+73422000000", "operator": None, "started_at": _ts(ended - timedelta(seconds=40)),
                        "answered_at": None, "ended_at": _ts(ended),
                        "outcome": rng.choice(["missed", "missed", "busy", "abandoned"])}
                groups.append([self._add_good("telephony", "call.ended", body, key=e164)])
                self.missed_by_phone[e164].add(call_id)
                # The PBX sometimes reports the same call twice with a new event id: no second effect.
                if rng.random() < 0.05:
                    again = dict(body, event_id=self._id())
                    groups.append([self._add_good("telephony", "call.ended", again, key=e164)])

        # Commands: ticket.create (draft or saved) with a reply queue; ticket.save of an unknown ticket.
        for i in range(n_cmds):
            cid = self._id()
            if rng.random() < 0.8:
                marker = f"faults-cmd:{cid}"
                body = {"command_id": cid, "type": "ticket.create", "operator": "op.petrova",
                        "via": rng.choice(["rs_card", "manual", "my_tickets"]),
                        "source": rng.choice(["Входящий звонок", "чат на сайте", "incoming_call"]),
                        "contact_phones": [phone_formats(rng, self._national(used))],
                        "comment": marker}
                if rng.random() < 0.5:
                    body.update({"save": True, "reasons": ["нет инета"], "resolutions": ["Проконсультировал"]})
                groups.append([self._add_good("metrika.commands", "ticket.create", body, key=marker,
                                              reply_to=self.reply_queue)])
                self.create_commands[cid] = marker
            else:
                body = {"command_id": cid, "type": "ticket.save", "ticket_id": "no-such-ticket-" + cid,
                        "operator": "op.ivanov", "reasons": ["Нет интернета"], "resolutions": ["Проконсультировал"],
                        "comment": "unknown ticket"}
                groups.append([self._add_good("metrika.commands", "ticket.save", body, key=cid,
                                              reply_to=self.reply_queue)])
                self.reject_commands.add(cid)

        # Poison, each with a unique AMQP message_id so its dead letter can be found.
        for i in range(n_poison):
            groups.append([self._poison(i, now)])

        # Interleave groups; inside a group keep its (already random) order, but let other
        # messages come between the two halves of a pair.
        rng.shuffle(groups)
        order = []
        pending = []
        for g in groups:
            order.append(g[0])
            pending.extend(g[1:])
            if pending and rng.random() < 0.5:
                order.append(pending.pop(0))
        order.extend(pending)

        # Exact duplicates (same body, same id): sent again a bit later.
        dup_candidates = [m for m in order if m.kind == "good"]
        dups = [self.rng.choice(dup_candidates) for _ in range(n_dups)] if dup_candidates else []
        for m in dups:
            pos = self.rng.randrange(len(order) + 1)
            order.insert(pos, m)
        self.duplicates_sent = len(dups)
        self.messages = order

    def _poison(self, i, now):
        rng = self.rng
        pid = f"poison-{self.prefix}-{self.seed}-{i}"
        kind = i % 14
        call = {"event_id": self._id(), "type": "call.ended", "call_id": f"poison.{pid}", "direction": "inbound",
                "subscriber_number": "89000000000", "line": "+73422000000", "operator": None,
                "started_at": _ts(now), "answered_at": None, "ended_at": _ts(now), "outcome": "missed"}
        exchange, rk = "telephony", "call.ended"
        props = {"content_type": "application/json", "delivery_mode": 2, "message_id": pid}
        if kind == 0:
            body, hint = b"this is not json {", "not_json"
        elif kind == 1:
            body, hint = b"[1, 2, 3]", "invalid_message"
        elif kind == 2:
            c = dict(call)
            del c["call_id"]
            body, hint = json.dumps(c).encode(), "invalid_message"
        elif kind == 3:
            body, hint = json.dumps(dict(call, direction=42)).encode(), "invalid_message"
        elif kind == 4:
            body, hint = json.dumps(dict(call, type="call.transferred")).encode(), "unknown_type"
            rk = "call.transferred"
        elif kind == 5:
            body, hint = b'{"event_id": "\xff\xfe", "type": "call.ended"}', "not_json"
        elif kind == 6:
            body, hint = b"", "empty_body"
        elif kind == 7:
            body, hint = json.dumps(dict(call, line="x" * 70000)).encode(), "body_too_large"
        elif kind == 8:
            body, hint = json.dumps(dict(call, ended_at="yesterday at noon")).encode(), "invalid_message"
        elif kind == 9:
            body, hint = json.dumps(call).encode(), "unsupported_content"
            props["content_type"] = "text/plain"
        elif kind == 10:
            body, hint = json.dumps(call).encode(), "unsupported_content"
            props["content_encoding"] = "gzip"
        elif kind == 11:
            body, hint = json.dumps(call).encode(), "message_id_mismatch"  # message_id = pid ≠ event_id
        elif kind == 12:
            body, hint = json.dumps(dict(call, subscriber_number="8900\u0000'; DROP TABLE tickets;--")).encode(), "invalid_message"
        else:
            cmd = {"command_id": self._id(), "type": "ticket.create", "operator": "op.x", "via": "rs_card",
                   "save": "yes please"}
            body, hint = json.dumps(cmd).encode(), "invalid_message"
            exchange, rk = "metrika.commands", "ticket.create"
        self.poison[pid] = (body, exchange, rk, hint)
        # The gateway records a dead letter under the body's id when it can read one, else under
        # the AMQP message_id: remember both.
        try:
            doc = json.loads(body)
            alt = (doc.get("event_id") or doc.get("command_id")) if isinstance(doc, dict) else None
        except ValueError:
            alt = None
        if isinstance(alt, str) and alt:
            self.poison_alias[alt] = pid
        return Msg(exchange, rk, body, props, "poison", pid)

    # -- summaries -------------------------------------------------------------------------

    @property
    def sent(self):
        return len(self.messages)


def _national_of(typed):
    digits = "".join(ch for ch in typed if ch.isdigit())
    return digits[-10:]
