"""How a statistics bulletin rounds and writes its numbers, in Chinese and in English.

Chinese bulletins (统计公报) write large figures in 万 and 亿 (2.4万P, 3.28亿千瓦时); English ones
in thousands separators and millions. Each figure is rounded on its own, so parts may not add
up to totals: the bulletin says so (`ROUNDING_NOTE`).
"""

from __future__ import annotations

ROUNDING_NOTE = {
    "zh": "注：本公报数据均经四舍五入，部分分项数据之和与总数可能存在差异。",
    "en": "Note: figures are rounded independently; parts may not sum to totals because of "
          "rounding.",
}


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def wan(x: float, places: int = 2) -> str:
    """In units of 万 (10^4), trailing zeros dropped: 24000 -> '2.4万', 21800 -> '2.18万'."""
    return _trim(f"{x / 1e4:.{places}f}") + "万"


def pflops(x: float, lang: str) -> str:
    """Compute in P, to the whole P (万P in Chinese from 10,000 P)."""
    if lang == "zh":
        return f"{wan(x)}P" if abs(x) >= 1e4 else f"{x:.0f}P"
    return f"{x:,.0f} P"


def integer(x: float, lang: str) -> str:
    return f"{x:.0f}" if lang == "zh" else f"{x:,.0f}"


def count(x: float, lang: str) -> str:
    """A large count: Chinese in 万 or 亿 (2 places), English with separators."""
    if lang == "zh":
        if abs(x) >= 1e8:
            return _trim(f"{x / 1e8:.2f}") + "亿"
        return wan(x) if abs(x) >= 1e4 else f"{x:.0f}"
    return f"{x:,.0f}"


def energy_kwh(x: float, lang: str) -> str:
    """Chinese: 万千瓦时 (1 place) or 亿千瓦时 (2 places); English: MWh (whole) or GWh."""
    if lang == "zh":
        if abs(x) >= 1e8:
            return _trim(f"{x / 1e8:.2f}") + "亿千瓦时"
        if abs(x) >= 1e4:
            return _trim(f"{x / 1e4:.1f}") + "万千瓦时"
        return f"{x:.0f}千瓦时"
    if abs(x) >= 1e6:
        return f"{x / 1e6:,.2f} GWh"
    return f"{x / 1e3:,.1f} MWh"


def mass_kg(x: float, lang: str) -> str:
    """CO2: Chinese 万吨 (2 places) or 吨; English tonnes."""
    t = x / 1000.0
    if lang == "zh":
        return (_trim(f"{t / 1e4:.2f}") + "万吨") if abs(t) >= 1e4 else f"{t:.0f}吨"
    return f"{t:,.0f} t"


def yuan(x: float, lang: str) -> str:
    """Chinese: 万元 (1 place) or 亿元 (2 places); English: million yuan (2 places)."""
    if lang == "zh":
        if abs(x) >= 1e8:
            return _trim(f"{x / 1e8:.2f}") + "亿元"
        return _trim(f"{x / 1e4:.1f}") + "万元"
    return f"{x / 1e6:,.2f} million yuan"


def share(x: float) -> str:
    return f"{x * 100:.1f}%"
