#!/usr/bin/env python3
"""Validate Metrika gateway messages against the JSON Schemas in this directory.

Usage:
  python3 contracts/validate.py TYPE        validate JSON documents read from stdin, one per line,
                                            against TYPE.schema.json (e.g. ticket.saved, asterisk.cdr)
  python3 contracts/validate.py --by-type   same, choosing each document's schema by its "type" field
                                            (PBX payloads have none: name their schema instead)
  python3 contracts/validate.py --examples  check every schema, then validate every file in
                                            contracts/examples against the schema named by its file name,
                                            and check that every file in contracts/examples/invalid fails
  python3 contracts/validate.py --asyncapi  parse asyncapi.yaml and check that every $ref resolves
  python3 contracts/validate.py --all       --examples and --asyncapi

Example file names: `examples/<type>.json` or `examples/<type>.<variant>.json` (e.g.
`examples/asterisk.cdr.busy.json` against asterisk.cdr.schema.json); the same in `examples/invalid/`
for documents that must be rejected. A document whose schema defines `type` must carry that type.

Repeated keys in an object (FreeSWITCH's mod_amqp sends `Hangup-Cause` twice): the first occurrence
wins, as in the gateway. Python's json alone would keep the last.

Prints one line per failure (for stdin: `line N: <path>: <message>`); exits 1 if anything failed,
0 otherwise, 2 on a usage error. Blank input lines are skipped.

Works with Debian's python3-jsonschema 4.10 (no `referencing` package needed) and with newer
jsonschema releases: $refs are resolved with a RefResolver whose store holds every schema of this
directory keyed by its $id. Formats date-time (RFC 3339 with a mandatory offset), date and uuid are
checked strictly by this script, so the result does not depend on optional format packages.
"""

import datetime
import json
import os
import re
import sys
import urllib.parse
import warnings

# jsonschema >= 4.18 deprecates RefResolver in favour of `referencing`; 4.10 has only RefResolver.
warnings.filterwarnings("ignore", category=DeprecationWarning)

import jsonschema  # noqa: E402
from jsonschema import FormatChecker  # noqa: E402
from jsonschema.exceptions import best_match  # noqa: E402
from jsonschema.validators import Draft202012Validator  # noqa: E402

try:
    from jsonschema.validators import RefResolver  # noqa: E402
except ImportError:  # pragma: no cover
    RefResolver = jsonschema.RefResolver

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "examples")
ASYNCAPI = os.path.join(HERE, "asyncapi.yaml")
ID_BASE = "https://metrika.example/contracts/"
SUFFIX = ".schema.json"
SHARED = {"common"}  # schema files that are not messages

# ---------------------------------------------------------------- formats

_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", re.ASCII)


def _is_date_time(value):
    if not isinstance(value, str):
        return True
    m = _DATE_TIME.match(value)
    if not m:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    offset = m.group(8)
    if offset not in ("Z", "z"):
        if int(offset[1:3]) > 23 or int(offset[4:6]) > 59:
            return False
    try:
        datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


def _is_date(value):
    if not isinstance(value, str):
        return True
    if not _DATE.match(value):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_uuid(value):
    return not isinstance(value, str) or bool(_UUID.match(value))


def _first_wins(pairs):
    """object_pairs_hook: a repeated key keeps its first value, as the gateway reads it."""
    obj = {}
    for key, value in pairs:
        obj.setdefault(key, value)
    return obj


def load_json(text):
    return json.loads(text, object_pairs_hook=_first_wins)


def make_format_checker():
    checker = FormatChecker()
    checker.checks("date-time")(_is_date_time)
    checker.checks("date")(_is_date)
    checker.checks("uuid")(_is_uuid)
    return checker


# ---------------------------------------------------------------- schemas


class Contracts:
    def __init__(self, directory=HERE):
        self.directory = directory
        self.problems = []  # schema-level problems found while loading
        self.by_type = {}  # "ticket.saved" -> schema
        self.store = {}  # $id -> schema
        for name in sorted(os.listdir(directory)):
            if not name.endswith(SUFFIX):
                continue
            kind = name[: -len(SUFFIX)]
            path = os.path.join(directory, name)
            try:
                with open(path, encoding="utf-8") as f:
                    schema = json.load(f)
            except (OSError, ValueError) as e:
                self.problems.append(f"{name}: cannot read: {e}")
                continue
            expected_id = ID_BASE + name
            if schema.get("$id") != expected_id:
                self.problems.append(f"{name}: $id is {schema.get('$id')!r}, expected {expected_id!r}")
            try:
                Draft202012Validator.check_schema(schema)
            except jsonschema.exceptions.SchemaError as e:
                self.problems.append(f"{name}: not a valid draft 2020-12 schema: {e.message}")
                continue
            self.by_type[kind] = schema
            self.store[schema.get("$id", expected_id)] = schema
        self.format_checker = make_format_checker()
        self._validators = {}

    def message_types(self):
        return sorted(k for k in self.by_type if k not in SHARED)

    def validator(self, kind):
        if kind not in self._validators:
            schema = self.by_type[kind]
            resolver = RefResolver(base_uri=schema["$id"], referrer=schema, store=self.store)
            self._validators[kind] = Draft202012Validator(
                schema, resolver=resolver, format_checker=self.format_checker
            )
        return self._validators[kind]

    def errors(self, kind, document):
        """Yields (path, message) for every failure of document against kind's schema."""
        try:
            found = sorted(self.validator(kind).iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
        except jsonschema.exceptions.RefResolutionError as e:
            yield "$", f"schema {kind}{SUFFIX} has an unresolvable $ref: {e}"
            return
        for error in found:
            for leaf in _leaf_errors(error):
                yield json_path(leaf.absolute_path), _shorten(leaf.message)

    def check_refs(self):
        """Every $ref in every schema must resolve."""
        problems = []
        for kind, schema in sorted(self.by_type.items()):
            resolver = RefResolver(base_uri=schema["$id"], referrer=schema, store=self.store)
            for ref in iter_refs(schema):
                url = urllib.parse.urljoin(schema["$id"], ref)
                try:
                    resolver.resolve(url)
                except jsonschema.exceptions.RefResolutionError as e:
                    problems.append(f"{kind}{SUFFIX}: $ref {ref!r} does not resolve: {e}")
        return problems


def _leaf_errors(error):
    """For anyOf/oneOf (e.g. "a subscriber snapshot or null"), the errors of the branch that fits.

    A branch that failed only on its own top-level `type` (the null branch when an object was
    given) is not the one meant; when one branch remains, all its errors are reported.
    """
    if not error.context:
        return [error]
    branches = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0] if sub.relative_schema_path else None, []).append(sub)
    meant = [
        errs for errs in branches.values()
        if not all(e.validator == "type" and not e.relative_path for e in errs)
    ]
    if len(meant) == 1:
        return [leaf for sub in meant[0] for leaf in _leaf_errors(sub)]
    return _leaf_errors(best_match(error.context))


def _shorten(message, limit=300):
    return message if len(message) <= limit else message[: limit - 1] + "…"


def json_path(parts):
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def iter_refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from iter_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_refs(item)


# ---------------------------------------------------------------- modes


def validate_stream(contracts, kind, stream, out):
    """kind None: choose the schema by each document's "type" field."""
    failures = 0
    for number, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError as e:
            print(f"line {number}: $: not UTF-8: {e}", file=out)
            failures += 1
            continue
        if not line.strip():
            continue
        try:
            document = load_json(line)
        except ValueError as e:
            print(f"line {number}: $: invalid JSON: {e}", file=out)
            failures += 1
            continue
        target = kind
        if target is None:
            target = document.get("type") if isinstance(document, dict) else None
            if not isinstance(target, str) or target not in contracts.by_type or target in SHARED:
                print(f"line {number}: $.type: no schema for type {target!r}", file=out)
                failures += 1
                continue
        bad = False
        for path, message in contracts.errors(target, document):
            print(f"line {number}: {path}: {message}", file=out)
            bad = True
        failures += bad
    return failures


def example_kind(contracts, name):
    """The schema an example file is for: `<type>.json` or `<type>.<variant>.json`; None if none."""
    stem = name[: -len(".json")]
    kinds = [k for k in contracts.by_type if k not in SHARED and (stem == k or stem.startswith(k + "."))]
    return max(kinds, key=len) if kinds else None


def _example_files(directory):
    return sorted(n for n in os.listdir(directory) if n.endswith(".json")) if os.path.isdir(directory) else []


def _read_example(path):
    with open(path, encoding="utf-8") as f:
        return load_json(f.read())


def _load_examples(contracts, directory, prefix, failures):
    """Yields (rel, kind, document) for each example in `directory` whose schema is known and which can be
    read; records a failure for each that cannot."""
    for name in _example_files(directory):
        rel = f"{prefix}/{name}"
        kind = example_kind(contracts, name)
        if kind is None:
            failures.append(f"{rel}: no schema for this file name (<type>.json or <type>.<variant>.json)")
            continue
        try:
            document = _read_example(os.path.join(directory, name))
        except (OSError, ValueError) as e:
            failures.append(f"{rel}: cannot read: {e}")
            continue
        yield rel, kind, document


def check_examples(contracts, out):
    failures = list(contracts.problems) + contracts.check_refs()
    covered = set()
    valid = 0
    for rel, kind, document in _load_examples(contracts, EXAMPLES, "examples", failures):
        covered.add(kind)
        typed = "type" in contracts.by_type[kind].get("properties", {})
        if typed and isinstance(document, dict) and document.get("type") != kind:
            failures.append(f"{rel}: $.type: is {document.get('type')!r}, the file name says {kind!r}")
        bad = False
        for path, message in contracts.errors(kind, document):
            failures.append(f"{rel}: {path}: {message}")
            bad = True
        valid += not bad
    for kind in contracts.message_types():
        if kind not in covered:
            failures.append(f"examples/{kind}.json: missing (every message schema needs an example)")
    rejected = 0
    for rel, kind, document in _load_examples(contracts, os.path.join(EXAMPLES, "invalid"), "examples/invalid", failures):
        if next(contracts.errors(kind, document), None) is None:
            failures.append(f"{rel}: valid against {kind}{SUFFIX}, but must be rejected")
        else:
            rejected += 1
    for line in failures:
        print(line, file=out)
    if not failures:
        print(f"examples: {valid} valid, {rejected} invalid rejected, {len(contracts.by_type)} schemas checked", file=out)
    return len(failures)


def resolve_pointer(document, fragment):
    """Resolves a JSON pointer fragment ('' or '/a/b'); raises KeyError/IndexError/ValueError."""
    fragment = urllib.parse.unquote(fragment)
    if fragment in ("", "/"):
        return document
    if not fragment.startswith("/"):
        raise ValueError(f"not a JSON pointer: {fragment!r}")
    node = document
    for token in fragment[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(token)]
        elif isinstance(node, dict):
            node = node[token]
        else:
            raise KeyError(token)
    return node


def check_asyncapi(contracts, out, path=ASYNCAPI):
    import yaml

    failures = []
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        print(f"asyncapi.yaml: cannot parse: {e}", file=out)
        return 1
    if not isinstance(doc, dict) or doc.get("asyncapi") != "2.6.0":
        failures.append("asyncapi.yaml: `asyncapi: 2.6.0` expected at the top")
        doc = doc if isinstance(doc, dict) else {}

    base = os.path.dirname(os.path.abspath(path))
    loaded = {}
    referenced = set()
    refs = list(dict.fromkeys(iter_refs(doc)))  # each distinct $ref once
    for ref in refs:
        file_part, _, fragment = ref.partition("#")
        if file_part:
            if re.match(r"^[a-z][a-z0-9+.-]*:", file_part):
                failures.append(f"asyncapi.yaml: $ref {ref!r}: only relative file references are allowed")
                continue
            target = os.path.normpath(os.path.join(base, file_part))
            if not os.path.isfile(target):
                failures.append(f"asyncapi.yaml: $ref {ref!r}: file {os.path.relpath(target, base)} does not exist")
                continue
            referenced.add(os.path.basename(target))
            if target not in loaded:
                try:
                    with open(target, encoding="utf-8") as f:
                        loaded[target] = json.load(f) if target.endswith(".json") else yaml.safe_load(f)
                except (OSError, ValueError, yaml.YAMLError) as e:
                    failures.append(f"asyncapi.yaml: $ref {ref!r}: cannot read: {e}")
                    loaded[target] = None
            target_doc = loaded[target]
            if target_doc is None:
                continue
        else:
            target_doc = doc
        try:
            resolve_pointer(target_doc, fragment)
        except (KeyError, IndexError, ValueError, TypeError):
            failures.append(f"asyncapi.yaml: $ref {ref!r}: fragment #{fragment} does not resolve")

    for kind in contracts.message_types():
        if f"{kind}{SUFFIX}" not in referenced:
            failures.append(f"asyncapi.yaml: no message references {kind}{SUFFIX}")

    # Every channel operation must name a message, and every message must have a payload.
    for channel, item in (doc.get("channels") or {}).items():
        for op in ("publish", "subscribe"):
            if isinstance(item, dict) and op in item and "message" not in (item[op] or {}):
                failures.append(f"asyncapi.yaml: channels.{channel}.{op}: no message")
    for name, message in ((doc.get("components") or {}).get("messages") or {}).items():
        if isinstance(message, dict) and "$ref" not in message and "payload" not in message:
            failures.append(f"asyncapi.yaml: components.messages.{name}: no payload")

    for line in failures:
        print(line, file=out)
    if not failures:
        print(f"asyncapi: parsed, {len(refs)} $refs resolve", file=out)
    return len(failures)


def main(argv):
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    arg = argv[0]
    contracts = Contracts()
    if arg == "--examples":
        return 1 if check_examples(contracts, sys.stdout) else 0
    if arg == "--asyncapi":
        return 1 if check_asyncapi(contracts, sys.stdout) else 0
    if arg == "--all":
        bad = check_examples(contracts, sys.stdout)
        bad += check_asyncapi(contracts, sys.stdout)
        return 1 if bad else 0
    if arg == "--by-type":
        kind = None
    else:
        kind = arg[: -len(SUFFIX)] if arg.endswith(SUFFIX) else arg
        if kind not in contracts.by_type or kind in SHARED:
            known = ", ".join(contracts.message_types())
            print(f"unknown message type {arg!r}; known: {known}", file=sys.stderr)
            return 2
    for problem in contracts.problems:
        print(problem, file=sys.stderr)
    failures = validate_stream(contracts, kind, sys.stdin.buffer, sys.stdout)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
