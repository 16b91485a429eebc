"""CO2 factors the ledger and certificates use, each with its source.

- Location-based: the grid part of a record at its site's provincial average grid factor
  (`Site.grid_intensity_g_per_kwh`: the network file's value, by default the province's 2022
  factor from the MEE/NBS announcement bundled in `network/data/grid_co2_factors.csv`).
- Market-based: contracted green power and green certificates count zero; the rest is charged
  at a residual-mix factor. China publishes no provincial residual mix; the nearest official
  figure is the national 2022 average *excluding market-traded non-fossil power*,
  0.5856 kgCO2/kWh (same MEE/NBS announcement, 26 Dec 2024), published for exactly this use:
  electricity bought without green-power contracts. We use it for every site.
- Avoided CO2 of a job: against running the same facility kWh in its origin region's grid with
  no green power. Location-based: at the origin's factor (`origin_factor`); market-based: at
  the residual mix (an origin without green contracts buys residual-mix power). Each avoided
  figure is kept with its own method, never mixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from suanwang.network.loader import provincial_grid_factors_g_per_kwh

RESIDUAL_MIX_G_PER_KWH = 585.6
RESIDUAL_MIX_SOURCE = (
    "MEE/NBS announcement of the 2021 and 2022 electricity CO2 emission factors (26 Dec 2024): "
    "national 2022 average excluding market-traded non-fossil power, 0.5856 kgCO2/kWh, used "
    "as the residual mix for every site (no provincial residual mix is published)")
RESIDUAL_MIX_SOURCE_ZH = (
    "生态环境部、国家统计局2021年和2022年电力二氧化碳排放因子公告（2024年12月26日）："
    "2022年全国电力平均二氧化碳排放因子（不包括市场化交易的非化石能源电量）0.5856千克/千瓦时，"
    "作为所有站点的剩余电力排放因子（未公布分省剩余电力因子）")
NATIONAL_AVERAGE_G_PER_KWH = 536.6
NATIONAL_AVERAGE_SOURCE = "MEE/NBS 2022 national average grid factor, 0.5366 kgCO2/kWh"

# The province(s) whose grid stands for each demand region of the bundled network: the place the
# network file puts the region (Beijing, Shanghai city centres; Guangzhou-Shenzhen; the midpoint
# of Chengdu and Chongqing, where both are taken with equal weight). Factors: MEE/NBS 2022.
PROVINCE_ZH = {"Beijing": "北京", "Shanghai": "上海", "Guangdong": "广东", "Sichuan": "四川",
               "Chongqing": "重庆"}
ORIGIN_PROVINCES: dict[str, tuple[str, ...]] = {
    "bth": ("Beijing",),
    "yrd": ("Shanghai",),
    "gba": ("Guangdong",),
    "cc": ("Sichuan", "Chongqing"),
}


@dataclass(frozen=True, slots=True)
class OriginFactor:
    region: str
    g_per_kwh: float
    basis: str  # how it was chosen, with its source
    basis_zh: str

    @property
    def mg_per_kwh(self) -> int:
        return round(self.g_per_kwh * 1000)


@lru_cache(maxsize=256)
def origin_factor(region: str) -> OriginFactor:
    """The grid factor of a demand region, for the avoided-CO2 baseline.

    A region of the bundled network takes its main province's 2022 factor (the mean where two
    provinces share the region); any other region the national 2022 average, said so in `basis`.
    """
    provinces = ORIGIN_PROVINCES.get(region)
    if provinces is None:
        return OriginFactor(region, NATIONAL_AVERAGE_G_PER_KWH,
                            f"no province mapped for region {region!r}: "
                            + NATIONAL_AVERAGE_SOURCE,
                            "未对应省份，取2022年全国电网平均排放因子0.5366千克/千瓦时")
    grid = provincial_grid_factors_g_per_kwh(2022)
    value = sum(grid[p] for p in provinces) / len(provinces)
    names = " and ".join(provinces)
    how = "mean of " if len(provinces) > 1 else ""
    names_zh = "、".join(PROVINCE_ZH.get(p, p) for p in provinces)
    how_zh = "的平均值" if len(provinces) > 1 else ""
    return OriginFactor(region, round(value, 3),
                        f"{how}{names} 2022 provincial grid factor (MEE/NBS, 26 Dec 2024)",
                        f"{names_zh}2022年省级电网平均排放因子{how_zh}（生态环境部、国家统计局，"
                        "2024年12月26日）")
