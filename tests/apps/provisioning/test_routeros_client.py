"""apps/provisioning/routeros.py against the RouterOS simulator: what provisioning relies on."""

import datetime
import ipaddress
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from librouteros.query import Key

from apps.provisioning import routeros
from apps.provisioning.models import Router
from tests.support.routers import PASSWORD, USERNAME, RouterSim

pytestmark = pytest.mark.django_db


def test_durations_are_written_as_routeros_writes_them():
    assert routeros.duration(3600) == "1h"
    assert routeros.duration(86400) == "1d"
    assert routeros.duration(90061) == "1d1h1m1s"
    assert routeros.duration(8 * 86400) == "1w1d"
    assert routeros.duration(0) == "0s"


def test_a_user_is_added_then_updated_never_doubled(router, router_sim):
    with routeros.session(router) as api:
        routeros.profile_ensure(api, name="conveyor-1h", rate_limit="2M/2M")
        fields = {
            "password": "abc12345",
            "profile": "conveyor-1h",
            "limit_uptime": "1h",
            "limit_bytes_total": 0,
            "comment": "conveyor:HSKX7P2Q",
        }
        assert routeros.user_upsert(api, name="hskx7p2q", **fields) == "added"
        assert (
            routeros.user_upsert(api, name="hskx7p2q", **{**fields, "password": "new"}) == "updated"
        )
    [user] = router_sim.state()["users"]
    assert (user["name"], user["password"], user["profile"]) == ("hskx7p2q", "new", "conveyor-1h")
    [_, profile] = router_sim.state()["profiles"]
    assert profile["rate-limit"] == "2M/2M"


def test_a_profiles_rate_limit_follows_the_package(router, router_sim):
    with routeros.session(router) as api:
        routeros.profile_ensure(api, name="conveyor-1h", rate_limit="2M/2M")
        routeros.profile_ensure(api, name="conveyor-1h", rate_limit="5M/5M")
    assert [p["rate-limit"] for p in router_sim.state()["profiles"]][1:] == ["5M/5M"]


def test_jobs_racing_to_create_one_profile_all_succeed(router, router_sim):
    router_sim.knobs(latency=0.02)  # every job reads "no such profile" before any adds it
    start = threading.Barrier(6)

    def ensure(_):
        with routeros.session(router) as api:
            start.wait()
            routeros.profile_ensure(api, name="conveyor-1h", rate_limit="2M/2M")

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(ensure, range(6)))
    names = [p["name"] for p in router_sim.state()["profiles"]]
    assert names == ["default", "conveyor-1h"]


def test_remove_and_kick(router, router_sim):
    router_sim.login_user("hsgone")
    with routeros.session(router) as api:
        api.path("ip", "hotspot", "user").add(name="hsgone", profile="default")
        assert routeros.sessions_kick(api, user="hsgone") == 1
        assert routeros.user_remove(api, name="hsgone") is True
        assert routeros.user_remove(api, name="hsgone") is False
    state = router_sim.state()
    assert state["users"] == [] and state["active"] == []


def test_resources(router):
    with routeros.session(router) as api:
        figures = routeros.resources(api)
    assert figures["identity"] == "conveyor-sim" and "cpu-load" in figures


@pytest.mark.parametrize("knob", [{"down": True}, {"refuse_next": 1}, {"drop_next": 1}])
def test_an_unreachable_router_is_transient(router, router_sim, knob):
    router_sim.knobs(**knob)
    with pytest.raises(routeros.RouterUnavailable), routeros.session(router) as api:
        list(api.path("ip", "hotspot", "user"))


def test_a_refusal_is_permanent(router, router_sim):
    router.password = "wrong"
    with pytest.raises(routeros.RouterRefused, match="login refused"), routeros.session(router):
        pass
    router.password = PASSWORD
    unknown_profile = pytest.raises(routeros.RouterRefused, match="does not match any value")
    with unknown_profile, routeros.session(router) as api:
        routeros.user_upsert(
            api,
            name="hsx",
            password="p",
            profile="missing",
            limit_uptime="1h",
            limit_bytes_total=0,
            comment="",
        )


def self_signed(directory) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "router")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_api_ssl_with_a_self_signed_certificate(tmp_path, settings):
    cert, key = self_signed(tmp_path)
    sim = RouterSim(tmp_path / "tls.log", "--tls-cert", cert, "--tls-key", key).start()
    try:
        router = Router.objects.create(
            name="TLS",
            host="127.0.0.1",
            port=sim.port,
            use_tls=True,
            username=USERNAME,
            password=PASSWORD,
        )
        with routeros.session(router) as api:
            assert next(iter(api.path("system", "identity")))["name"] == "conveyor-sim"
        settings.ROUTER_TLS_CA_FILE = cert  # verified against its own certificate too
        with routeros.session(router) as api:
            assert list(api.path("ip", "hotspot", "user").select(Key("name"))) == []
        router.use_tls = False  # speaking plain API to an api-ssl port fails, transiently
        settings.ROUTER_TIMEOUT = 2
        with pytest.raises(routeros.RouterUnavailable), routeros.session(router):
            pass
    finally:
        sim.stop()
