"""A legacy admin script's view of syncd's pair routes (API.md 8.1), through
pyactiveresource, an ActiveResource client: the element `user` on the nested
site `/user_groups/:user_group_id/`, so that `exists` is a HEAD, `save` of a
known user a PUT and `destroy` a DELETE of /user_groups/G/users/U.xml.

Run by tests/api/clients.rs with SYNCD_URL, SYNCD_TOKEN, USER_ID, OTHER_ID
and GROUP_ID in the environment; prints one line per step and exits non-zero
on the first surprise.
"""

import os
import sys

from pyactiveresource.activeresource import ActiveResource
from pyactiveresource import connection


class User(ActiveResource):
    _site = os.environ["SYNCD_URL"] + "/user_groups/$user_group_id/"
    # Highrise style: the token as the user name, any password.
    _user = os.environ["SYNCD_TOKEN"]
    _password = "X"


def check(what, ok):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        sys.exit(1)


user, other, group = (int(os.environ[k]) for k in ("USER_ID", "OTHER_ID", "GROUP_ID"))

check("not a member yet: exists? is false", not User.exists(user, user_group_id=group))

member = User({"id": user}, prefix_options={"user_group_id": group})
check("save puts the membership", member.save())
check("now exists? is true", User.exists(user, user_group_id=group))
check("the answer is the membership", member.attributes.get("user_group_id") == group)

# A script run again makes the same calls: all of them still succeed.
again = User({"id": user}, prefix_options={"user_group_id": group})
check("save again succeeds", again.save())

found = User.find(user, user_group_id=group)
check("find reads the membership", found.attributes.get("user_id") == user)

other_member = User({"id": other}, prefix_options={"user_group_id": group})
check("save of another user", other_member.save())

User({"id": user}, prefix_options={"user_group_id": group}).destroy()
check("destroy removes it", not User.exists(user, user_group_id=group))
User({"id": user}, prefix_options={"user_group_id": group}).destroy()
check("destroy again succeeds", not User.exists(user, user_group_id=group))
check("the other user is still a member", User.exists(other, user_group_id=group))

try:
    User.find(999999, user_group_id=group)
    check("an unknown user is not found", False)
except connection.ResourceNotFound:
    check("an unknown user is not found", True)
