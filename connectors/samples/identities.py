"""Synthetic people, employers, places and organisation names (check digits valid; no identity used twice)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from casehub.connectors.sample import make_credit_code, make_id_number, make_name, make_phone

# division -> (city, district, short prefix used in mediation case numbers, streets)
PLACES = {
    "210102": ("沈阳", "和平区", "沈和", ("南市场", "太原街", "新华")),
    "210103": ("沈阳", "沈河区", "沈沈", ("五里河", "大西", "风雨坛")),
    "210104": ("沈阳", "大东区", "沈东", ("津桥", "小北", "东站")),
    "210202": ("大连", "中山区", "连中", ("人民路", "青泥洼桥", "桃源")),
    "210302": ("鞍山", "铁东区", "鞍铁", ("解放", "园林", "站前")),
    "210402": ("抚顺", "新抚区", "抚新", ("站前", "永安台", "榆林")),
}
CITY_SHORT = {"沈阳": "沈", "大连": "大", "鞍山": "鞍", "抚顺": "抚"}
# Home counties of migrant workers; stdnum knows these codes for the birth years drawn (others fall back to Liaoning).
MIGRANT_ORIGINS = ("412726", "342221", "230103", "522121")
BRAND_CHARS = (
    "华锐远航宏达恒信盛世金桥鼎新利民北方顺通安居天成瑞丰博众诚泰隆兴嘉和"  # two-character brands: ~900 names per trade
)
TRADES = {
    "regular": ("建筑工程", "机械制造", "物业服务", "餐饮管理", "商贸"),
    "migrant": ("建筑工程", "建筑劳务", "市政工程"),
    "dispatched": ("人力资源服务", "劳务派遣"),
    "rider": ("即时配送", "同城速递网络科技"),
}
USER_TRADES = ("汽车零部件制造", "电子科技", "食品加工", "仓储物流")


@dataclass(frozen=True)
class Person:
    name: str
    id_number: str
    phone: str
    address: str


@dataclass(frozen=True)
class Employer:
    name: str
    credit_code: str
    division: str
    address: str

    @property
    def legal_representative(self) -> str:
        """法定代表人: a name of its own, drawn from the credit code (not from the pool's generator, so adding it
        changed no other sample value)."""
        return make_name(random.Random(self.credit_code))


def street_address(rng: random.Random, division: str) -> str:
    city, district, _, streets = PLACES[division]
    return f"辽宁省{city}市{district}{rng.choice(streets)}街道{rng.randrange(1, 300)}号"


class IdentityPool:
    """Hands out people and employers; ID numbers, phones and credit codes never repeat within one run."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()
        self.employers: dict[tuple[str, str], list[Employer]] = {}

    def _unique(self, make) -> str:
        while True:
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value

    def person(self, division: str, migrant: bool = False) -> Person:
        rng = self.rng

        def id_number() -> str:
            if not migrant:
                return make_id_number(rng, division if rng.random() < 0.7 else None)
            for _ in range(8):  # make_id_number falls back to a Liaoning code when the county did not exist yet
                number = make_id_number(rng, rng.choice(MIGRANT_ORIGINS))
                if not number.startswith("21"):
                    break
            return number

        return Person(
            make_name(rng),
            self._unique(id_number),
            self._unique(lambda: make_phone(rng)),
            street_address(rng, division),
        )

    def employer(self, division: str, category: str, reuse: float = 0.35) -> Employer:
        """An employer in `division`; some are reused so one employer faces several disputes."""
        pool = self.employers.setdefault((division, category), [])
        if pool and self.rng.random() < reuse:
            return self.rng.choice(pool)
        trades = USER_TRADES if category == "user" else TRADES[category]
        city = PLACES[division][0]
        while True:
            brand = "".join(self.rng.sample(BRAND_CHARS, 2))
            name = f"{city}{brand}{self.rng.choice(trades)}有限公司"
            if name not in self.used:
                self.used.add(name)
                break
        code = self._unique(lambda: make_credit_code(self.rng, division))
        employer = Employer(name, code, division, street_address(self.rng, division))
        pool.append(employer)
        return employer


def mediation_org(rng: random.Random, division: str, kind: str, employer: Employer) -> str:
    """Name of a mediation organisation of the given kind code (01 enterprise .. 05 pre-arbitration)."""
    city, district, _, streets = PLACES[division]
    return {
        "01": f"{employer.name.removesuffix('有限公司')}劳动争议调解委员会",
        "02": f"{district}{rng.choice(streets)}街道劳动争议调解委员会",
        "03": f"{city}市{rng.choice(('建筑业', '快递物流业', '餐饮业'))}劳动争议调解委员会",
        "04": f"{district}劳动人事争议调解中心",
        "05": f"{city}市劳动人事争议仲裁院仲裁前调解工作室",
    }[kind]


def arbitration_commission(division: str) -> str:
    return f"{PLACES[division][0]}市劳动人事争议仲裁委员会"


def basic_court(division: str) -> str:
    city, district, _, _ = PLACES[division]
    return f"{city}市{district}人民法院"
