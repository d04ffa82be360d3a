"""Synthetic identities (check digits right) and mediation rows for tests and the benchmark; the four sample
databases are in connectors/samples."""

from __future__ import annotations

import datetime as dt
import hashlib
import random

from stdnum.cn import ric, uscc

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
EMPLOYERS = [
    "沈阳华锐建筑工程有限公司",
    "大连远航物流有限公司",
    "鞍山宏达机械制造有限公司",
    "沈阳美食速递网络科技有限公司",
    "抚顺恒信物业服务有限公司",
]
DIVISIONS = ["210102", "210103", "210104", "210202", "210302", "210402"]
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def make_id_number(rng: random.Random, division: str | None = None) -> str:
    """An 18-character resident ID number that python-stdnum accepts (check character, and an address code
    that existed in the birth year: stdnum knows when each county code was valid)."""
    while True:
        place = division or rng.choice(DIVISIONS)
        birth = dt.date(1966, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 38))
        body = f"{place}{birth:%Y%m%d}{rng.randrange(0, 1000):03d}"
        number = body + ric.calc_check_digit(body + "0")  # stdnum wants a placeholder in the check position
        if ric.is_valid(number):
            return number
        division = None  # that code did not exist in that year: draw again


def make_credit_code(rng: random.Random, division: str | None = None) -> str:
    """An 18-character unified social credit code whose MOD 31 check character is right."""
    division = division or rng.choice(DIVISIONS)
    body = "91" + division + "".join(rng.choice(CREDIT_ALPHABET) for _ in range(9))
    return body + uscc.calc_check_digit(body)


def make_phone(rng: random.Random) -> str:
    return rng.choice(["138", "139", "150", "186", "177"]) + f"{rng.randrange(0, 10**8):08d}"


def make_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))


def local(ts: dt.datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S")


def mediation_rows(n: int, seed: int = 7, start: dt.datetime = dt.datetime(2024, 3, 1, 9, 0)) -> list[dict]:
    """Rows for tj_ajxx: n mediation cases, each in its latest state."""
    rng = random.Random(seed)
    rows = []
    for i in range(1, n + 1):
        division = rng.choice(DIVISIONS)
        applied = start + dt.timedelta(hours=rng.randrange(0, 24 * 200))
        status = rng.choice(["10", "20", "30", "40", "40", "50", "70"])
        updated = applied + dt.timedelta(days=rng.randrange(0, 14), minutes=rng.randrange(0, 600))
        amount = rng.randrange(2000, 90000)
        other = random.Random(
            f"{seed}:{i}"
        )  # addresses and legal representatives: the rows' other values stay as they were
        rows.append(
            {
                "ajid": i,
                "ajbh": f"沈和调〔{applied.year}〕{i:04d}号",
                "zt": status,
                "sqr_xm": make_name(rng),
                "sqr_sfzh": make_id_number(rng),
                "sqr_sjh": make_phone(rng),
                "sqr_zz": f"辽宁省沈阳市和平区{other.choice('南市北市太原集贤')}街{other.randrange(1, 300)}号",
                "bsqr_mc": rng.choice(EMPLOYERS),
                "bsqr_xydm": make_credit_code(rng, division),
                "bsqr_zs": f"辽宁省沈阳市沈河区{other.choice('青年大街北站路市府大路')}{other.randrange(1, 500)}号",
                "bsqr_fddbr": make_name(other),
                "tjzz_mc": rng.choice(
                    ["和平区劳动人事争议调解中心", "沈河区南市场街道调解委员会", "华锐建筑企业劳动争议调解委员会"]
                ),
                "tjzz_lx": rng.choice(["01", "02", "05"]),
                "xzqh": division,
                "qqlx": rng.choice(["GZ", "JB", "JJBC"]),
                "qqje": f"{amount}.00",
                "xyje": f"{int(amount * 0.8)}.00" if status in ("40", "70") else None,
                "xysxrq": (updated.date()).isoformat() if status in ("40", "70") else None,
                "sfsqsfqr": rng.choice(["Y", "N"]) if status == "40" else None,
                "xynr": f"分两期支付{int(amount * 0.8)}.00元" if status in ("40", "70") else None,
                "xywj_dz": f"file:///data/tiaojie/xys/{i}.pdf" if status in ("40", "70") else None,
                "xywj_hash": hashlib.sha256(f"xys-{seed}-{i}".encode()).hexdigest() if status in ("40", "70") else None,
                "wpfy": None,
                "nmg": rng.choice(["0", "1"]),
                "sqsj": local(applied),
                "gxsj": local(updated),
                "bz": None,
            }
        )
    return rows
