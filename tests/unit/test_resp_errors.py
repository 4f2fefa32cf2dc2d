"""The Wire's reply errors (``resp.reply_error``, public exception classes only) are the
ones redis-py's own parser raises: class, message and status code, over every code it
knows. redis-py's parser is the reference here only; the Wire does not import it."""

from __future__ import annotations

import pytest
import redis
from redis._parsers.base import BaseParser

from app.store.resp import reply_error

_REDIS_PY = tuple(int(p) for p in redis.__version__.split(".")[:2])

REPLIES = [
    "ERR unknown command 'FOO'",
    "ERR max number of clients reached",
    "ERR invalid password",
    "ERR",
    "WRONGTYPE Operation against a key holding the wrong kind of value",
    "NOSCRIPT No matching script. Please use EVAL.",
    "READONLY You can't write against a read only replica.",
    "OOM command not allowed when used memory > 'maxmemory'.",
    "LOADING Redis is loading the dataset in memory",
    "EXECABORT Transaction discarded because of previous errors.",
    "NOAUTH Authentication required.",
    "WRONGPASS invalid username-password pair or user is disabled.",
    "NOPERM this user has no permissions to run the 'eval' command",
    "BUSY Redis is busy running a script.",
    "MOVED 3999 127.0.0.1:6381",
    "ASK 3999 127.0.0.1:6381",
    "TRYAGAIN Multiple keys request during rehashing of slot",
    "CLUSTERDOWN The cluster is down",
    "CROSSSLOT Keys in request don't hash to the same slot",
    "MASTERDOWN Link with MASTER is down",
    "user_script:1: Script attempted to access nonexistent global variable 'x'",
    "",
]


@pytest.mark.parametrize("text", REPLIES)
def test_reply_errors_are_redis_pys(text: str) -> None:
    ours, theirs = reply_error(text), BaseParser.parse_error(text)
    assert type(ours) is type(theirs)
    assert ours.args == theirs.args
    code = getattr(theirs, "status_code", None)
    if code is None and _REDIS_PY < (8, 2):  # before 8.2 only the codes it knows had one
        code = getattr(ours, "status_code", None) if text.split(" ")[0] != "ERR" else None
    assert getattr(ours, "status_code", None) == code


def test_every_code_redis_py_knows_is_mapped() -> None:
    from app.store.resp import _BY_CODE

    assert set(_BY_CODE) == set(BaseParser.EXCEPTION_CLASSES) - {"ERR"}
