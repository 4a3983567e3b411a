"""Member: one account per phone number however it is spelled, and an upline without cycles."""

import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from apps.accounts.models import Member
from apps.accounts.phone import normalize_phone
from apps.accounts.services import member_create

subscriber = st.from_regex(r"[17][0-9]{8}", fullmatch=True)


@given(subscriber, st.sampled_from(["0{}", "{}", "254{}", "+254{}", "00254{}", "+254 {}"]))
def test_every_spelling_of_a_number_normalizes_to_one_form(number, spelling):
    assert normalize_phone(spelling.format(number)) == f"254{number}"


@pytest.mark.parametrize(
    "bad", ["", "12345", "0812345678", "2547123456789", "+1 555 0100", "07123abc78", "254812345678"]
)
def test_what_is_not_a_kenyan_mobile_number_is_refused(bad):
    with pytest.raises(ValidationError, match="not a Kenyan mobile number"):
        normalize_phone(bad)


@pytest.mark.django_db
def test_a_member_is_stored_with_the_normal_form_and_is_unique_by_it():
    member = member_create(phone="0712 345 678", name="Wanjiru")
    assert member.phone == "254712345678"
    assert not member.has_usable_password()
    with pytest.raises(ValidationError) as error:
        member_create(phone="+254712345678")
    assert "phone" in error.value.message_dict
    assert Member.objects.count() == 1


@pytest.mark.django_db
def test_a_bad_phone_is_a_field_error():
    with pytest.raises(ValidationError) as error:
        member_create(phone="not a phone")
    assert list(error.value.message_dict) == ["phone"]


@pytest.mark.django_db
def test_members_log_in_with_any_spelling_of_their_number():
    member_create(phone="0712345678", password="a long passphrase")
    assert authenticate(username="+254 712 345 678", password="a long passphrase")
    assert authenticate(username="garbage", password="a long passphrase") is None


@pytest.mark.django_db
def test_an_upline_is_kept_and_a_referral_cycle_is_refused():
    top = member_create(phone="0711000001")
    middle = member_create(phone="0711000002", referred_by=top)
    bottom = member_create(phone="0711000003", referred_by=middle)
    assert list(top.referrals.all()) == [middle]

    top.referred_by = bottom
    with pytest.raises(ValidationError, match="referral cycle"):
        top.full_clean()
    top.referred_by = top
    with pytest.raises(ValidationError, match="referral cycle"):
        top.full_clean()


@pytest.mark.django_db
def test_an_upline_with_referrals_cannot_be_deleted():
    from django.db.models import ProtectedError

    top = member_create(phone="0711000001")
    member_create(phone="0711000002", referred_by=top)
    with pytest.raises(ProtectedError):
        top.delete()


@pytest.mark.django_db
def test_the_admin_creates_a_member_from_a_local_number(staff_client):
    from django.urls import reverse

    response = staff_client.post(
        reverse("admin:accounts_member_add"),
        {
            "phone": "0799 000 111",
            "name": "Otieno",
            "password1": "a long passphrase",
            "password2": "a long passphrase",
        },
    )
    assert response.status_code == 302, response.content
    assert Member.objects.filter(phone="254799000111", name="Otieno").exists()
