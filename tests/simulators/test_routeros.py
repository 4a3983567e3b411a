"""librouteros, over TCP, against simulators/routeros.py: the API the provisioning code uses."""

import socket

import pytest
from librouteros import connect
from librouteros.exceptions import ConnectionClosed, FatalError, TrapError
from librouteros.query import Key, Or

from tests.support.routers import PASSWORD, USERNAME


@pytest.fixture
def api(router_sim):
    router_sim.reset()
    connection = connect(
        "127.0.0.1", USERNAME, PASSWORD, port=router_sim.port, timeout=5, encoding="utf-8"
    )
    yield connection
    connection.close()


def users(api):
    return api.path("ip", "hotspot", "user")


def test_a_bad_login_is_a_trap(router_sim):
    with pytest.raises(TrapError, match=r"invalid user name or password \(6\)"):
        connect("127.0.0.1", USERNAME, "wrong", port=router_sim.port, timeout=5)


def test_users_can_be_added_printed_set_and_removed(api):
    api.path("ip", "hotspot", "user", "profile").add(name="1hr", **{"rate-limit": "2M/2M"})
    new_id = users(api).add(
        name="hskx7p2q",
        password="483921",
        profile="1hr",
        comment="conveyor:HSKX7P2Q",
        **{"limit-uptime": "1h", "limit-bytes-total": 524288000},
    )
    assert new_id.startswith("*")
    [row] = (
        users(api)
        .select(Key(".id"), Key("name"), Key("limit-bytes-total"))
        .where(Key("name") == "hskx7p2q")
    )
    assert row == {".id": new_id, "name": "hskx7p2q", "limit-bytes-total": 524288000}

    users(api).update(**{".id": new_id, "limit-uptime": "2h", "disabled": True})
    [row] = users(api).select(Key("limit-uptime"), Key("disabled")).where(Key("name") == "hskx7p2q")
    assert row == {"limit-uptime": "2h", "disabled": True}

    users(api).remove(new_id)
    assert list(users(api)) == []


def test_routeros_trap_texts(api):
    users(api).add(name="hsone", profile="default")
    with pytest.raises(TrapError, match="already have user with this name for this server"):
        users(api).add(name="hsone", profile="default")
    with pytest.raises(TrapError, match="input does not match any value of profile") as trap:
        users(api).add(name="hstwo", profile="nope")
    assert trap.value.category == 1
    with pytest.raises(TrapError, match="no such item"):
        users(api).remove("*FFFF")
    with pytest.raises(TrapError, match="no such command prefix"):
        tuple(api.path("ip", "nothing")("print"))


def test_queries_follow_the_stack_and_proplist_limits_columns(api):
    for name in ("hsa", "hsb", "hsc"):
        users(api).add(name=name, profile="default", comment=name.upper())
    either = users(api).select(Key("name")).where(Or(Key("name") == "hsa", Key("name") == "hsc"))
    assert sorted(r["name"] for r in either) == ["hsa", "hsc"]
    both = users(api).select(Key("name")).where(Key("name") == "hsa", Key("comment") == "HSB")
    assert list(both) == []
    assert all(set(r) == {"comment"} for r in users(api).select(Key("comment")))


@pytest.mark.parametrize("length", [0x7F, 0x80, 0x3FFF, 0x4000])
def test_words_across_the_length_encoding_boundaries(api, length):
    # "=comment=" is 9 bytes of the word: the comment makes the whole word this long.
    comment = "c" * (length - len("=comment="))
    users(api).add(name="hslong", profile="default", comment=comment)
    [row] = users(api).select(Key("comment")).where(Key("name") == "hslong")
    assert row["comment"] == comment


def test_active_sessions_are_listed_and_kicked(api, router_sim):
    session_id = router_sim.login_user("hsactive")
    active = api.path("ip", "hotspot", "active")
    [row] = active.select(Key(".id"), Key("user")).where(Key("user") == "hsactive")
    assert row == {".id": session_id, "user": "hsactive"}
    active.remove(session_id)
    assert list(active) == []


def test_system_resource_and_identity(api):
    resource = next(iter(api.path("system", "resource")))
    assert {"uptime", "version", "cpu-load", "free-memory", "board-name"} <= set(resource)
    assert next(iter(api.path("system", "identity")))["name"] == "conveyor-sim"


def test_tags_are_echoed_and_quit_is_fatal(api):
    api.protocol.writeSentence("/system/identity/print", ".tag=42")
    replies = [api.protocol.readSentence() for _ in range(2)]
    assert [word for _, words in replies for word in words if word.startswith(".tag")] == [
        ".tag=42",
        ".tag=42",
    ]
    with pytest.raises(FatalError, match="session terminated on request"):
        tuple(api("/quit"))


def test_fault_knobs(router_sim, api):
    router_sim.knobs(trap_next=1)
    with pytest.raises(TrapError, match="simulated fault"):
        list(users(api))
    assert list(users(api)) == []

    router_sim.knobs(refuse_next=1)
    with pytest.raises((ConnectionClosed, OSError)):
        connect("127.0.0.1", USERNAME, PASSWORD, port=router_sim.port, timeout=5)

    router_sim.knobs(drop_next=1)
    with pytest.raises((ConnectionClosed, socket.timeout, OSError)):
        list(users(api))

    router_sim.knobs(down=True)
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", router_sim.port), timeout=2)
    finally:
        router_sim.knobs(down=False)
