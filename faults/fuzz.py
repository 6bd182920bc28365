"""Mutated valid messages for the randomised decoder test: hostile bodies (truncations, byte
flips, invalid UTF-8, huge and control-character strings, wrong types, SQL-looking text, deep
nesting…) and hostile AMQP properties and header tables."""

import copy
import hashlib
import json
import random
import struct

from amqp import RawField
from workload import Msg, Workload

SQLISH = ["'); DROP TABLE inbox; --", "\" OR 1=1 --", "1; DELETE FROM tickets", "x' UNION SELECT * FROM outbox --",
          "%s%s%s%n", "${jndi:ldap://127.0.0.1/a}", "<script>alert(1)</script>", "../../etc/passwd"]
CONTROL = ["\u0000", "\u0001\u0002", "\u001b[31m", "\u007f", "a\u0008b", "\u200f\u202e", "\ud7ff\ufffe"]
# reply_to values the fuzz run declares as queues, so that every reply can be counted; an invalid
# UTF-8 reply_to reaches the gateway as U+FFFD replacement characters.
EXTRA_REPLY_QUEUES = ["faults.replies.other", "r" * 255]
REPLACED_REPLY_QUEUE = "\ufffd\ufffd"
INVALID_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80"]


def depth_ok(data, limit=200):
    """Whether brackets nest at most `limit` deep (deeper documents could overflow Python's parser)."""
    depth = 0
    for ch in data:
        if ch in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return False
        elif ch in (0x5D, 0x7D):
            depth -= 1
    return True


def safe_json(data):
    """json.loads, or None for documents that are not JSON or too deeply nested to parse safely."""
    if not depth_ok(data):
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def _paths(obj, prefix=()):
    """Every (path, value) in a JSON document."""
    yield prefix, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _set(obj, path, value):
    for p in path[:-1]:
        obj = obj[p]
    obj[path[-1]] = value


def _delete(obj, path):
    for p in path[:-1]:
        obj = obj[p]
    del obj[path[-1]]


def _nested(depth, kind):
    if kind == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


class Fuzzer:
    def __init__(self, seed, count):
        self.rng = random.Random(seed)
        self.count = count
        base = Workload(seed=seed, size=int(count * 1.2) + 50, poison_ratio=0, dup_ratio=0.0, prefix="fuzz")
        self.bases = [m for m in base.messages if m.kind == "good"]
        self.rng.shuffle(self.bases)
        self.messages = []
        self.mutation = {}  # sha -> mutation name
        self._seen = set()

    def build(self):
        rng = self.rng
        body_mutators = [self.truncate, self.flip, self.invalid_utf8, self.huge_string, self.long_field,
                         self.control_chars, self.sql_strings, self.wrong_type, self.delete_field, self.extra_fields,
                         self.duplicate_key, self.deep_nesting, self.big_numbers, self.bad_type, self.bom,
                         self.bad_time, self.not_object, self.empty]
        prop_mutators = [self.content_type, self.content_encoding, self.message_id, self.hostile_headers,
                         self.reply_to]
        i = 0
        while len(self.messages) < self.count and i < len(self.bases):
            base = self.bases[i]
            i += 1
            m = Msg(base.exchange, base.routing_key, base.body, dict(base.props), "fuzz", base.mid)
            names = []
            for _ in range(rng.choice([1, 1, 1, 2])):
                f = rng.choice(body_mutators + prop_mutators)
                names.append(f.__name__)
                try:
                    f(m)
                except (IndexError, KeyError, TypeError, ValueError, RecursionError):
                    pass  # the mutation does not apply to this document
            h = hashlib.sha256(m.body).hexdigest()
            if h in self._seen:
                continue
            self._seen.add(h)
            self.mutation[h] = "+".join(names)
            self.messages.append(m)
        return self.messages

    # -- body mutations --------------------------------------------------------------------

    def _doc(self, m):
        return safe_json(m.body)

    def _put(self, m, doc, ensure_ascii=False):
        m.body = json.dumps(doc, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")

    def _string_paths(self, doc):
        return [p for p, v in _paths(doc) if isinstance(v, str) and p]

    def truncate(self, m):
        m.body = m.body[: self.rng.randrange(1, max(2, len(m.body)))]

    def flip(self, m):
        b = bytearray(m.body)
        for _ in range(self.rng.randint(1, 4)):
            i = self.rng.randrange(len(b))
            b[i] ^= 1 << self.rng.randrange(8)
        m.body = bytes(b)

    def invalid_utf8(self, m):
        b = m.body
        i = self.rng.randrange(len(b))
        # Prefer the inside of a string value.
        q = b.find(b'"', i)
        if q > 0:
            i = q + 1 if q + 1 < len(b) else q
        m.body = b[:i] + self.rng.choice(INVALID_UTF8) + b[i:]

    def huge_string(self, m):
        doc = self._doc(m)
        if doc is None:
            return
        paths = self._string_paths(doc)
        if paths:
            _set(doc, self.rng.choice(paths), "Я" * self.rng.choice([70_000, 300_000, 2_000_000]))
            self._put(m, doc)

    def long_field(self, m):
        doc = self._doc(m)
        if doc is None:
            return
        paths = self._string_paths(doc)
        if paths:
            _set(doc, self.rng.choice(paths), "ж" * self.rng.choice([129, 1001, 4001, 20_000]))
            self._put(m, doc)

    def control_chars(self, m):
        doc = self._doc(m)
        if doc is None:
            return
        paths = self._string_paths(doc)
        if paths:
            p = self.rng.choice(paths)
            v = doc
            for k in p:
                v = v[k]
            _set(doc, p, v + self.rng.choice(CONTROL))
            self._put(m, doc, ensure_ascii=self.rng.random() < 0.5)

    def sql_strings(self, m):
        doc = self._doc(m)
        if doc is None:
            return
        paths = [p for p in self._string_paths(doc) if p[-1] not in ("type",)]
        for p in self.rng.sample(paths, min(len(paths), self.rng.randint(1, 3))):
            _set(doc, p, self.rng.choice(SQLISH))
        self._put(m, doc)

    def wrong_type(self, m):
        doc = self._doc(m)
        if doc is None:
            return
        paths = [p for p, v in _paths(doc) if p]
        p = self.rng.choice(paths)
        _set(doc, p, self.rng.choice([42, -1, 3.25, True, None, [], {}, ["x"], {"nested": [1]}, "", "42"]))
        self._put(m, doc)

    def delete_field(self, m):
        doc = self._doc(m)
        if doc is None:
            return
        paths = [p for p, v in _paths(doc) if p and not isinstance(p[-1], int)]
        if paths:
            _delete(doc, self.rng.choice(paths))
            self._put(m, doc)

    def extra_fields(self, m):
        doc = self._doc(m)
        if isinstance(doc, dict):
            doc["x_future_field"] = {"k": [1, 2, {"z": None}]}
            doc["schema_version"] = self.rng.choice([2, 99, "2.0"])
            self._put(m, doc)

    def duplicate_key(self, m):
        b = m.body
        if b.startswith(b"{"):
            m.body = b'{"event_id": "dup-key-' + str(self.rng.randrange(10**9)).encode() + b'", ' + b[1:]

    def deep_nesting(self, m):
        doc = self._doc(m)
        if not isinstance(doc, dict):
            return
        depth = self.rng.choice([600, 5000, 30000])
        body = json.dumps(doc)
        nested = _nested(depth, self.rng.choice(["array", "object"]))
        m.body = (body[:-1] + ', "x_deep": ' + nested + "}").encode()

    def big_numbers(self, m):
        doc = self._doc(m)
        if doc is None:
            return
        paths = [p for p, v in _paths(doc) if p and isinstance(v, (int, str))]
        if paths:
            p = self.rng.choice(paths)
            raw = json.dumps(doc)
            marker = "__BIG__"
            _set(doc, p, marker)
            raw = json.dumps(doc).replace(f'"{marker}"', self.rng.choice(
                ["99999999999999999999999", "-9223372036854775809", "1e400", "-0", "1.5", "NaN", "Infinity", "0x10"]))
            m.body = raw.encode()

    def bad_type(self, m):
        doc = self._doc(m)
        if isinstance(doc, dict):
            doc["type"] = self.rng.choice(["", "call.transferred", "CALL.ENDED", "subscriber.updated.v2", None, 7,
                                           "ticket.delete", "x" * 300])
            self._put(m, doc)

    def bom(self, m):
        m.body = self.rng.choice([b"\xef\xbb\xbf", b"  \n\t", b"\x00"]) + m.body

    def bad_time(self, m):
        doc = self._doc(m)
        if not isinstance(doc, dict):
            return
        keys = [k for k in ("occurred_at", "answered_at", "ended_at", "started_at") if k in doc]
        if keys:
            doc[self.rng.choice(keys)] = self.rng.choice(
                ["2026-13-45T99:99:99+03:00", "2026-12-03T10:00:00", "yesterday", "", "2026-12-03 10:00:00+03:00",
                 "9999-12-31T23:59:59+14:00", "0000-01-01T00:00:00Z"])
            self._put(m, doc)

    def not_object(self, m):
        m.body = self.rng.choice([b"null", b"true", b"123", b'"a string"', b"[]", b"{}", b"[{}]", b"{\"type\": null}"])

    def empty(self, m):
        m.body = self.rng.choice([b"", b" ", b"\n"])

    # -- property and header mutations -----------------------------------------------------

    def content_type(self, m):
        m.props["content_type"] = self.rng.choice(
            ["text/plain", "application/json; charset=koi8-r", "", "APPLICATION/JSON", None, "application/xml",
             b"\xff\xfeapplication/json", "application/json" + "x" * 200])
        if m.props["content_type"] is None:
            del m.props["content_type"]

    def content_encoding(self, m):
        m.props["content_encoding"] = self.rng.choice(["gzip", "utf-16", "", "identity", "UTF-8", b"\xff\xfe", "br"])

    def message_id(self, m):
        m.props["message_id"] = self.rng.choice(
            ["", "other-" + str(self.rng.randrange(10**9)), b"\xff\xfe\xfd", "x" * 255, "\u0000", m.mid + " "])

    def reply_to(self, m):
        m.props["reply_to"] = self.rng.choice(EXTRA_REPLY_QUEUES + ["", b"\xff\xfe"])
        m.props["correlation_id"] = self.rng.choice(["", b"\xff", "c" * 255, None])
        if m.props["correlation_id"] is None:
            del m.props["correlation_id"]

    def hostile_headers(self, m):
        rng = self.rng
        kind = rng.randrange(6)
        if kind == 0:  # many entries
            h = {f"k{i}": i for i in range(rng.choice([500, 3000]))}
        elif kind == 1:  # deep nesting of tables
            h = {}
            cur = h
            for _ in range(rng.choice([50, 400, 1500])):
                nxt = {}
                cur["n"] = nxt
                cur = nxt
        elif kind == 2:  # deep nesting of arrays
            v = [1]
            for _ in range(rng.choice([50, 400, 1500])):
                v = [v]
            h = {"a": v}
        elif kind == 3:  # every field type, some odd
            h = {
                "s": "строка", "b": b"\x00\xff\xfe", "t": True, "i": -2**31, "l": 2**62, "v": None,
                "raw-invalid-utf8": RawField(b"S" + struct.pack(">I", 3) + b"\xff\xfe\xfd"),
                # (NaN and infinities make RabbitMQ 3.10 itself close the publishing connection.)
                "raw-float": RawField(b"f" + struct.pack(">f", -1.5e38)),
                "raw-double": RawField(b"d" + struct.pack(">d", 1e308)),
                "raw-short": RawField(b"s" + struct.pack(">h", -1)),
                "raw-ushort": RawField(b"u" + struct.pack(">H", 65535)),
                "raw-uint": RawField(b"i" + struct.pack(">I", 2**32 - 1)),
                "raw-byte": RawField(b"b" + struct.pack(">b", -128)),
                "raw-decimal": RawField(b"D" + struct.pack(">Bi", 255, -1)),
                "raw-timestamp": RawField(b"T" + struct.pack(">Q", 0)),  # (pika cannot read back 2**63)
                "arr": [1, "x", None, {"k": [True]}],
                "x-metrika-error-class": "forged", "x-death": "forged",
            }
        elif kind == 4:  # long keys and values, and an empty key (which rabbitmq-c 0.11 refuses to copy)
            h = {"k" * 255: "v" * 60000, " ": " ", "\u00a0": "nbsp", "": "empty field name"}
        else:  # header text that looks like SQL, control chars and invalid UTF-8
            h = {"x-sql": rng.choice(SQLISH), "x-ctl": "\u0000\u001b\u007f",
                 "x-bad": RawField(b"S" + struct.pack(">I", 2) + rng.choice([b"\xc3\x28", b"\xed\xa0"]))}
        m.props["headers"] = h
