#!/usr/bin/env python3
"""Data and checks for `bench/run.sh --sync` (issue 16, API.md 8.4 and 8.5).

    sync_data.py gen DIR       the import files and every request body
    sync_data.py check KIND ANSWER ...   checks a JSON answer (exit 1 if not as expected)

Users are `user000001` .. `user101000`; with the benchmark's manager as user 1
they get ids 2 .. 101001, so user number i has id i + 1. Groups: `big` (id 1)
and `cs01` .. `cs10` (ids 2 .. 11).

- The big group holds users 1 .. 100,000 (set 0). Set 1 is set 0 without
  every 200th user (500 of them) and with users 100,001 .. 100,500: each set
  differs from the other by 1,000 users, so PUTs that alternate between them
  each add 500 and remove 500.
- Each `csNN` group holds users 1 .. 1,000. Change set 0 removes users
  1 .. 500 and adds 1,001 .. 1,500 in all ten groups (10,000 changes);
  change set 1 undoes it.
"""

import os
import sys
import json

USERS = 101_000
BIG = 100_000
CS_GROUPS = 10


def login(i):
    return f"user{i:06d}"


def set_members(which):
    base = range(1, BIG + 1)
    if which == 0:
        return list(base)
    out = [i for i in base if i % 200 != 0]
    out.extend(range(BIG + 1, BIG + 501))
    return out


def change_set(which):
    """(action, user number, group number 1..10) for each of 10,000 changes."""
    low, high = range(1, 501), range(1001, 1501)
    out, back = (low, high) if which == 0 else (high, low)
    changes = []
    for g in range(1, CS_GROUPS + 1):
        changes.extend(("remove", i, g) for i in out)
        changes.extend(("add", i, g) for i in back)
    return changes


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def gen(d):
    os.makedirs(d, exist_ok=True)
    write(
        os.path.join(d, "users.csv"),
        "login,name,email,user_group_manager\n"
        + "".join(f"{login(i)},User {i},{login(i)}@example.com,false\n" for i in range(1, USERS + 1)),
    )
    write(
        os.path.join(d, "groups.csv"),
        "name,description\nbig,The 100000-member group\n"
        + "".join(f"cs{g:02d},Change sets\n" for g in range(1, CS_GROUPS + 1)),
    )
    rows = [f"{login(i)},big\n" for i in range(1, BIG + 1)]
    for g in range(1, CS_GROUPS + 1):
        rows.extend(f"{login(i)},cs{g:02d}\n" for i in range(1, 1001))
    write(os.path.join(d, "memberships.csv"), "login,group_name\n" + "".join(rows))

    for which in (0, 1):
        members = set_members(which)
        write(os.path.join(d, f"put-json-{which}"), json.dumps({"user_ids": [i + 1 for i in members]}))
        write(os.path.join(d, f"put-csv-{which}"), "login\n" + "".join(login(i) + "\n" for i in members))
        write(
            os.path.join(d, f"put-xml-{which}"),
            '<?xml version="1.0" encoding="UTF-8"?>\n<user-group-members>\n  <user-logins type="array">\n'
            + "".join(f"    <user-login>{login(i)}</user-login>\n" for i in members)
            + "  </user-logins>\n</user-group-members>\n",
        )
        changes = change_set(which)
        write(
            os.path.join(d, f"cs-json-{which}"),
            json.dumps([{"action": a, "user_id": i + 1, "user_group_id": g + 1} for a, i, g in changes]),
        )
        write(
            os.path.join(d, f"cs-xml-{which}"),
            '<?xml version="1.0" encoding="UTF-8"?>\n<membership-changes type="array">\n'
            + "".join(
                f"  <membership-change><action>{a}</action><user-login>{login(i)}</user-login>"
                f"<user-group-name>cs{g:02d}</user-group-name></membership-change>\n"
                for a, i, g in changes
            )
            + "</membership-changes>\n",
        )

    limit = 16 * 1024 * 1024
    with open(os.path.join(d, "garbage"), "wb") as f:
        f.write(os.urandom(limit))
    with open(os.path.join(d, "over-limit"), "wb") as f:
        f.write(b" " * (limit + 1))
    million = 1_000_000
    write(
        os.path.join(d, "xml-million"),
        "<user-group-members><user-ids>" + "<a/>" * million + "</user-ids></user-group-members>",
    )
    write(os.path.join(d, "json-million"), '{"user_ids":[' + ",".join(["1"] * million) + "]}")
    write(os.path.join(d, "csv-million"), "user_id\n" + "2\n" * million)
    write(os.path.join(d, "cs-json-million"), "[" + ",".join(["{}"] * million) + "]")
    write(os.path.join(d, "cs-xml-million"), "<membership-changes>" + "<a/>" * million + "</membership-changes>")


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def check(kind, path, *args):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        answer = json.loads(raw)
    except ValueError:
        fail(f"not JSON: {raw[:300]!r}")
    if kind == "put":
        added, removed, dry = int(args[0]), int(args[1]), args[2] == "true"
        got = (len(answer.get("added", [])), len(answer.get("removed", [])), answer.get("dry_run"))
        if got != (added, removed, dry):
            fail(f"report added/removed/dry_run {got}, expected {(added, removed, dry)}: {raw[:300]!r}")
    elif kind == "changes":
        added, removed = int(args[0]), int(args[1])
        items = answer
        if isinstance(answer, dict):
            items = next((v for v in answer.values() if isinstance(v, list)), [])
        results = [c.get("result") for c in items]
        got = (results.count("added"), results.count("removed"), len(results))
        if got != (added, removed, added + removed):
            fail(f"change set results added/removed/all {got}: {raw[:300]!r}")
    elif kind == "members":
        n = int(args[0])
        if len(answer.get("user_ids", [])) != n:
            fail(f"{len(answer.get('user_ids', []))} members, expected {n}")
    else:
        fail(f"unknown check {kind}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "gen":
        gen(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "check":
        check(*sys.argv[2:])
    else:
        fail(__doc__)
