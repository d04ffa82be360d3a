import random

import pytest

from casehub.connectors.sample import make_credit_code, make_id_number
from casehub.domain.identities import (
    InvalidIdentifier,
    Protector,
    credit_code_status,
    mask_id,
    mask_phone,
    normalise_id_number,
)

VALID_ID = "210102199003071233"


def test_valid_id_normalised_from_full_width_and_lower_x():
    assert normalise_id_number("２１０１０２１９９００３０７１２３３") == VALID_ID
    generated = make_id_number(random.Random(3))
    assert normalise_id_number(generated.lower()) == generated


def test_wrong_check_character_is_rejected_with_field():
    with pytest.raises(InvalidIdentifier) as err:
        normalise_id_number("210102199003071234", field="sqr_sfzh")
    assert err.value.field == "sqr_sfzh"
    assert "check character" in err.value.reason


def test_impossible_birth_date_is_rejected():
    with pytest.raises(InvalidIdentifier):
        normalise_id_number("210102199013071233")


def test_hash_is_keyed_and_stable():
    a, b = Protector("k1"), Protector("k2")
    assert a.id_number(VALID_ID)[1] == a.id_number(VALID_ID)[1]
    assert a.id_number(VALID_ID)[1] != b.id_number(VALID_ID)[1]
    assert VALID_ID not in a.id_number(VALID_ID)[1]


def test_masks():
    assert mask_id(VALID_ID) == "2101**********1233"
    assert mask_phone("13812345678") == "138****5678"
    assert Protector("k").phone("+86 138-1234-5678")[2] == "138****5678"


def test_credit_code_failing_check_is_flagged_not_rejected():
    good = make_credit_code(random.Random(5))
    assert credit_code_status(good) == (good, True)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert credit_code_status(bad) == (bad, False)


def test_credit_code_of_wrong_shape_is_rejected():
    with pytest.raises(InvalidIdentifier):
        credit_code_status("91210102ABCDEFGHIO")  # contains I and O


def test_hash_is_hmac_sha256_of_kind_and_value():
    # what a court or another hub holding the same secret computes to match a person
    import hashlib
    import hmac

    p = Protector("secret-1")
    for kind, value in (("ric", "21010219900307123X"), ("phone", "13812345678"), ("ric", "张")):
        assert p.hash(kind, value) == hmac.new(b"secret-1", f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    assert (
        p.phone("１３８-1234-5678")[0] == p.phone("13812345678")[0] == "13812345678"
    )  # full-width and dashes still read
