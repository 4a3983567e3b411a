"""The Africa's Talking simulator over HTTP: sends answered in the documented shape and
billed per part, the refusals (key, username, fields, numbers, body size), the fault knobs,
and delivery reports reaching a small HTTP server the test runs."""

import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest
import requests

from devstack.processes import free_port, wait_for
from tests.support.sms_sim import SmsSim

pytestmark = pytest.mark.slow  # starts the simulator

KEY, USERNAME = "test-at-key", "sandbox"
SAFARICOM, AIRTEL = "+254711000001", "+254733000002"
MESSAGE_ID = re.compile(r"ATXid_[0-9a-f]{32}")


class Reports:
    """Delivery reports POSTed to ``url``, as form fields (plus the request's Content-Type)."""

    def __init__(self):
        self.received: list[dict] = []
        self.lock = threading.Lock()
        reports = self

        class Collect(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                with reports.lock:
                    reports.received.append(
                        {**dict(parse_qsl(body)), "content_type": self.headers["Content-Type"]}
                    )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Collect)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/sms/token/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, message_id: str, count: int) -> list[dict]:
        """The reports for one message, once ``count`` have arrived."""

        def arrived():
            with self.lock:
                found = [r for r in self.received if r["id"] == message_id]
            return len(found) >= count and found

        return wait_for(arrived, timeout=5, what=f"{count} reports for {message_id}")


@pytest.fixture(scope="module")
def reports():
    collector = Reports()
    yield collector
    collector.server.shutdown()


@pytest.fixture(scope="module")
def sms_sim(tmp_path_factory, reports):
    sim = SmsSim(
        tmp_path_factory.mktemp("sms") / "africastalking.log",
        dlr_url=reports.url,
        api_key=KEY,
        username=USERNAME,
    ).start()
    yield sim
    sim.stop()


@pytest.fixture(autouse=True)
def fresh(sms_sim):
    sms_sim.reset()


def send(sim, to: str, message: str = "Your code is 4821", key: str = KEY, **fields):
    return requests.post(
        f"{sim.url}/version1/messaging",
        data={"username": USERNAME, "to": to, "message": message, **fields},
        headers={"apiKey": key, "Accept": "application/json"},
        timeout=5,
    )


def test_a_send_is_answered_201_in_the_documented_shape(sms_sim):
    response = send(sms_sim, SAFARICOM, **{"from": "CONVEYOR", "bulkSMSMode": "1"})

    assert response.status_code == 201, response.text
    data = response.json()["SMSMessageData"]
    assert data["Message"] == "Sent to 1/1 Total Cost: KES 0.8000"
    [recipient] = data["Recipients"]
    assert MESSAGE_ID.fullmatch(recipient.pop("messageId"))
    assert recipient == {
        "statusCode": 101,
        "number": SAFARICOM,
        "status": "Success",
        "cost": "KES 0.8000",
    }
    [taken] = sms_sim.messages()
    assert MESSAGE_ID.fullmatch(taken.pop("id"))
    assert isinstance(taken.pop("received_at"), float)
    assert taken == {
        "to": SAFARICOM,
        "from": "CONVEYOR",
        "message": "Your code is 4821",
        "statusCode": 101,
        "username": USERNAME,
    }


@pytest.mark.parametrize(
    ("message", "cost"),
    [
        ("a" * 160, "KES 0.8000"),
        ("a" * 161, "KES 1.6000"),
        ("€" * 80, "KES 0.8000"),  # the GSM extension set counts twice
        ("€" * 81, "KES 1.6000"),
        ("Ā" * 70, "KES 0.8000"),  # not GSM: 70 characters a part
        ("Ā" * 71, "KES 1.6000"),
    ],
)
def test_a_message_is_billed_per_part(sms_sim, message, cost):
    [recipient] = send(sms_sim, SAFARICOM, message).json()["SMSMessageData"]["Recipients"]
    assert recipient["cost"] == cost


def test_several_recipients_get_an_entry_and_an_id_each(sms_sim):
    response = send(sms_sim, f"{SAFARICOM}, {AIRTEL},+254110000003")

    data = response.json()["SMSMessageData"]
    assert data["Message"] == "Sent to 3/3 Total Cost: KES 2.4000"
    assert [r["number"] for r in data["Recipients"]] == [SAFARICOM, AIRTEL, "+254110000003"]
    ids = {r["messageId"] for r in data["Recipients"]}
    assert {m["id"] for m in sms_sim.messages()} == ids and len(ids) == 3


@pytest.mark.parametrize(
    ("key", "username"), [("wrong-key", USERNAME), ("", USERNAME), (KEY, "someone-else")]
)
def test_a_wrong_key_or_username_is_a_401_in_text(sms_sim, key, username):
    response = requests.post(
        f"{sms_sim.url}/version1/messaging",
        data={"username": username, "to": SAFARICOM, "message": "hi"},
        headers={"apiKey": key},
        timeout=5,
    )
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "The supplied authentication is invalid"
    assert sms_sim.messages() == []


@pytest.mark.parametrize("missing", ["to", "message"])
def test_a_missing_field_is_a_400_in_text(sms_sim, missing):
    form = {"username": USERNAME, "to": SAFARICOM, "message": "hi"}
    del form[missing]
    response = requests.post(
        f"{sms_sim.url}/version1/messaging", data=form, headers={"apiKey": KEY}, timeout=5
    )
    assert response.status_code == 400
    assert missing in response.text and response.headers["Content-Type"].startswith("text/")
    assert sms_sim.messages() == []


def test_numbers_get_their_pinned_status_and_bad_numbers_are_refused(sms_sim):
    pinned = {"+254700000403": 403, "+254700000406": 406, "+254700000405": 405}
    sms_sim.knobs(numbers={**pinned, "+254700000501": 501})
    response = send(sms_sim, ",".join([*pinned, "+254700000501", "0712345678", SAFARICOM]))

    assert response.status_code == 201
    data = response.json()["SMSMessageData"]
    assert data["Message"] == "Sent to 1/6 Total Cost: KES 0.8000"
    failed = [(r["number"], r["statusCode"], r["status"]) for r in data["Recipients"][:-1]]
    assert failed == [
        ("+254700000403", 403, "InvalidPhoneNumber"),
        ("+254700000406", 406, "UserInBlacklist"),
        ("+254700000405", 405, "InsufficientBalance"),
        ("+254700000501", 501, "GatewayError"),
        ("0712345678", 403, "InvalidPhoneNumber"),  # not +254 and 9 digits
    ]
    assert {(r["cost"], r["messageId"]) for r in data["Recipients"][:-1]} == {("0", "None")}
    assert data["Recipients"][-1]["statusCode"] == 101


def test_nothing_but_refusals_costs_nothing(sms_sim):
    data = send(sms_sim, "+2547").json()["SMSMessageData"]
    assert data["Message"] == "Sent to 0/1 Total Cost: 0"


def test_fail_next_answers_500_and_takes_nothing(sms_sim):
    sms_sim.knobs(fail_next=2)
    assert [send(sms_sim, SAFARICOM).status_code for _ in range(3)] == [500, 500, 201]
    assert len(sms_sim.messages()) == 1
    assert sms_sim.state()["counts"]["errors_injected"] == 2

    sms_sim.knobs(error_rate=1.0)
    assert send(sms_sim, SAFARICOM).status_code == 500
    assert len(sms_sim.messages()) == 1


def test_slow_answer_takes_the_message_before_the_client_gives_up(sms_sim):
    sms_sim.knobs(slow_answer=2.0)
    with pytest.raises(requests.ReadTimeout):
        requests.post(
            f"{sms_sim.url}/version1/messaging",
            data={"username": USERNAME, "to": SAFARICOM, "message": "taken"},
            headers={"apiKey": KEY},
            timeout=(3, 0.3),
        )
    # Well before the answer was due, the gateway had the message: a resend would double it.
    [taken] = sms_sim.wait_for_messages(1, timeout=1.5)
    assert taken["message"] == "taken"


def test_slow_holds_the_message_back_until_it_answers(sms_sim):
    sms_sim.knobs(slow=1.5)
    with pytest.raises(requests.ReadTimeout):
        requests.post(
            f"{sms_sim.url}/version1/messaging",
            data={"username": USERNAME, "to": SAFARICOM, "message": "late"},
            headers={"apiKey": KEY},
            timeout=(3, 0.3),
        )
    assert sms_sim.messages() == []  # still asleep before taking it
    assert sms_sim.wait_for_messages(1, timeout=5)[0]["message"] == "late"


def test_each_accepted_recipient_gets_a_form_encoded_delivery_report(sms_sim, reports):
    data = send(sms_sim, f"{SAFARICOM},{AIRTEL},0712").json()["SMSMessageData"]
    first, second, _refused = (r["messageId"] for r in data["Recipients"])

    [report] = reports.of(first, 1)
    assert report == {
        "id": first,
        "status": "Success",
        "phoneNumber": SAFARICOM,
        "networkCode": "63902",
        "retryCount": "0",
        "content_type": "application/x-www-form-urlencoded",
    }
    assert reports.of(second, 1)[0]["networkCode"] == "63903"
    wait_for(lambda: sms_sim.state()["counts"]["reports_sent"] == 2, timeout=5, what="2 sent")


def test_reports_can_come_twice_and_fail_per_number(sms_sim, reports):
    sms_sim.knobs(
        dlr_delay=0.05,
        dlr_duplicates=2,
        dlr_numbers={"+254700000777": ["Failed", "UserIsInactive"]},
    )
    data = send(sms_sim, f"+254700000777,{SAFARICOM}").json()["SMSMessageData"]
    failed_id, ok_id = (r["messageId"] for r in data["Recipients"])

    failed = reports.of(failed_id, 3)
    assert {(r["status"], r["failureReason"]) for r in failed} == {("Failed", "UserIsInactive")}
    ok = reports.of(ok_id, 3)
    assert {r["status"] for r in ok} == {"Success"} and not any("failureReason" in r for r in ok)


def test_an_intermediate_report_comes_before_the_final_one(sms_sim, reports):
    sms_sim.knobs(dlr_delay=0.05, dlr_intermediate=True, dlr_status="Rejected")
    [recipient] = send(sms_sim, SAFARICOM).json()["SMSMessageData"]["Recipients"]

    sent, final = reports.of(recipient["messageId"], 2)
    assert sent["status"] == "Sent" and "failureReason" not in sent
    assert (final["status"], final["failureReason"]) == ("Rejected", "DeliveryFailure")


def test_resend_delivers_a_report_again(sms_sim, reports):
    [recipient] = send(sms_sim, SAFARICOM).json()["SMSMessageData"]["Recipients"]
    message_id = recipient["messageId"]
    [first] = reports.of(message_id, 1)

    replay = requests.post(f"{sms_sim.url}/simulator/resend", json={"id": message_id}, timeout=5)
    assert replay.status_code == 200 and replay.json()["sent"] is True
    assert reports.of(message_id, 2)[1] == first

    late = {"id": message_id, "status": "Failed", "failureReason": "UserDoesNotExist"}
    assert requests.post(f"{sms_sim.url}/simulator/resend", json=late, timeout=5).ok
    assert reports.of(message_id, 3)[2]["failureReason"] == "UserDoesNotExist"

    unknown = requests.post(f"{sms_sim.url}/simulator/resend", json={"id": "None"}, timeout=5)
    assert unknown.status_code == 404


def test_no_report_url_no_reports_and_a_dead_one_is_counted(sms_sim):
    sms_sim.knobs(dlr_url="")
    send(sms_sim, SAFARICOM)
    assert sms_sim.state()["pending_reports"] == 0  # scheduled before the answer, if at all

    sms_sim.knobs(dlr_url=f"http://127.0.0.1:{free_port()}/", dlr_delay=0.0)
    assert send(sms_sim, SAFARICOM).status_code == 201
    wait_for(lambda: sms_sim.state()["counts"]["reports_failed"] == 1, timeout=15, what="a failure")
    assert send(sms_sim, SAFARICOM).status_code == 201  # still serving


@pytest.mark.parametrize(
    "changes",
    [{"colour": "red"}, {"slow": "fast"}, {"numbers": {SAFARICOM: 999}}, {"dlr_status": "Ok"}],
)
def test_unknown_knobs_and_bad_values_are_a_400(sms_sim, changes):
    response = requests.post(f"{sms_sim.url}/simulator/config", json=changes, timeout=5)
    assert response.status_code == 400 and "error" in response.json()


def test_a_body_over_a_megabyte_is_refused_unread(sms_sim):
    with socket.create_connection(("127.0.0.1", sms_sim.port), timeout=5) as sock:
        sock.sendall(
            b"POST /version1/messaging HTTP/1.1\r\nHost: x\r\napiKey: " + KEY.encode() + b"\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 2000000\r\n\r\n"
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 413")


def test_reset_forgets_messages_counts_and_knobs(sms_sim):
    sms_sim.knobs(fail_next=5, dlr_delay=30.0)
    send(sms_sim, SAFARICOM)
    sms_sim.knobs(fail_next=0)
    send(sms_sim, SAFARICOM)
    assert sms_sim.state()["pending_reports"] == 1

    sms_sim.reset()
    state = sms_sim.state()
    assert sms_sim.messages() == [] and state["pending_reports"] == 0
    assert set(state["counts"].values()) == {0}
    assert state["knobs"]["dlr_delay"] == 0.2
