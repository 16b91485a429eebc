"""A picture of one site's energy over a period: supply, green share, intensity (PNG).

Three panels on Beijing time:
1. supply, MW: contracted wind, solar and firm output stacked (what the farms produce; above
   the dashed load line it is sold to the grid), and the grid's part of the load on top of the
   green power used;
2. green share, % (the file's annual figure dashed);
3. carbon intensity of the site's power, g CO2/kWh, with the time-of-use price on the right.

Drawn with matplotlib's Agg backend (no display needed). The supply panel needs the series'
`supply` (the physical model); without it the plot has the other two panels.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from pathlib import Path

import numpy as np

from suanwang.energy.series import EnergySeries
from suanwang.model import Site

BEIJING = timezone(timedelta(hours=8), "UTC+8")


def plot_site(series: EnergySeries, site: Site, out: Path, title: str = "") -> Path:
    """Write the site's PNG to `out` and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    i = series.site_index(site.id)
    times = [series.hour_start_utc(h).astimezone(BEIJING) for h in range(series.hours)]
    supply = series.supply
    panels = 3 if supply is not None else 2
    fig, axes = plt.subplots(panels, 1, figsize=(11, 2.6 * panels + 0.6), sharex=True,
                             constrained_layout=True)
    axes = list(np.atleast_1d(axes))
    green = series.green_share[i]
    if supply is not None:
        ax = axes.pop(0)
        load_mw = supply.load_kw[i] / 1000.0
        wind, solar, firm = (supply.wind_kw[i] / 1000.0, supply.solar_kw[i] / 1000.0,
                             supply.firm_kw[i] / 1000.0)
        ax.stackplot(times, firm, wind, solar, step="post", alpha=0.85,
                     colors=["#6a9f58", "#4c78a8", "#f2b447"],
                     labels=["firm (hydro, traded green)", "wind", "solar"])
        used = np.minimum(wind + solar + firm, load_mw)
        ax.fill_between(times, used, load_mw, step="post", color="#9c9c9c", alpha=0.7,
                        label="grid", linewidth=0)
        ax.step(times, np.full(len(times), load_mw), where="post", color="black",
                linestyle="--", linewidth=1, label=f"load {load_mw:,.0f} MW")
        ax.set_ylabel("supply MW")
        ax.legend(loc="upper left", ncol=5, fontsize=8, framealpha=0.8)
        ax.set_ylim(0, max(load_mw * 1.05, float((wind + solar + firm).max()) * 1.05))
    ax = axes.pop(0)
    ax.step(times, green * 100, where="post", color="#2e8b57", linewidth=1.2,
            label=f"green share, mean {green.mean():.0%}")
    ax.axhline(site.green_share * 100, color="#2e8b57", linestyle="--", linewidth=0.8,
               label=f"file's annual figure {site.green_share:.0%}")
    ax.set_ylim(0, 105)
    ax.set_ylabel("green share %")
    ax.legend(loc="lower left", fontsize=8, framealpha=0.8)
    ax = axes.pop(0)
    ax.step(times, series.intensity_g_per_kwh[i], where="post", color="#8b3a3a", linewidth=1.2)
    ax.set_ylabel("intensity g CO2/kWh", color="#8b3a3a")
    ax.set_ylim(0, site.grid_intensity_g_per_kwh * 1.05)  # the grid factor is the ceiling
    price_ax = ax.twinx()
    price_ax.step(times, series.price_yuan_per_kwh[i], where="post", color="#555555",
                  linewidth=0.8, alpha=0.7)
    price_ax.set_ylabel("price yuan/kWh", color="#555555")
    price_ax.set_ylim(bottom=0)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d", tz=BEIJING))
    ax.xaxis.set_minor_locator(mdates.HourLocator(byhour=[0, 6, 12, 18], tz=BEIJING))
    ax.set_xlabel("Beijing time (UTC+8)")
    fig.suptitle(title or site.name_en)  # Latin only: no CJK font is assumed
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
