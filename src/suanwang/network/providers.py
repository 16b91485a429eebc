"""The providers of a network file: the catalogue at the top level and each site's shares.

The top-level `providers:` list is the catalogue: per provider its names, docking mode,
executor binding, SLA, egress price, optional per-tenant caps and its price items. A site's
`providers:` list says which of them sell there and with what share of each of the site's
pools; it may give a `quota` (units per kind offered to the platform, default: the whole
share), and `prices` (which replace the catalogue's items of those kinds at this site), and
override `egress_yuan_per_gb`, `sla`, `docking`, `executor`. Shares of every kind add up to 1;
units are the shares of the site's installed units, rounded by largest remainder so they add
up exactly.

A site without a `providers:` list has one implicit provider (id = the site id) that owns
every pool and bills the electricity cost of the units, as the site's energy series gives it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from typing import Any

from suanwang.model import Docking, Kind, Pool, PriceItem, Provider, Sla, TouWindow
from suanwang.network.reader import _Reader

CHINA_TZ = dt.timezone(dt.timedelta(hours=8))
IMPLICIT_EFFECTIVE = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
CATALOGUE_KEYS = {"id", "name_zh", "name_en", "docking", "executor", "sla",
                  "egress_yuan_per_gb", "tenant_cap", "prices", "source"}
SITE_KEYS = {"id", "share", "quota", "prices", "price_factor", "egress_yuan_per_gb", "sla",
             "docking", "executor", "tenant_cap", "source"}
ITEM_KEYS = {"id", "kind", "yuan_per_unit_h", "effective_from", "tou"}


def parse_catalogue(r: _Reader, doc: Any) -> dict[str, dict[str, Any]]:
    """The top-level catalogue by provider id (raw blocks, checked for keys and ids)."""
    out: dict[str, dict[str, Any]] = {}
    for i, node in enumerate(r.seq(doc, "providers", "", required=False)):
        p = f"providers[{i}]"
        _known_keys(r, node, p, CATALOGUE_KEYS)
        pid = r.text(node, "id", p)
        if pid in out:
            raise r.fail(f"{p}.id", pid, "duplicate provider id")
        r.text(node, "name_zh", p)
        r.text(node, "name_en", p)
        out[pid] = {**node, "_path": p}
    return out


def site_providers(r: _Reader, s: Any, p: str, site_id: str, pools: list[Pool],
                   catalogue: dict[str, dict[str, Any]]) -> tuple[Provider, ...]:
    """The providers of one site (the implicit one when the site lists none)."""
    if not isinstance(s, dict) or "providers" not in s:
        return (_implicit(s, site_id, pools),)
    entries = r.seq(s, "providers", p)
    if not entries:
        raise r.fail(f"{p}.providers", [], "list at least one provider, or leave the key out")
    kinds = [q.kind for q in pools]
    shares: list[dict[Kind, float]] = []
    ids: list[str] = []
    for j, e in enumerate(entries):
        ep = f"{p}.providers[{j}]"
        _known_keys(r, e, ep, SITE_KEYS)
        pid = r.text(e, "id", ep)
        if pid not in catalogue:
            known = ", ".join(catalogue) or "(the file has no top-level providers list)"
            raise r.fail(f"{ep}.id", pid, f"unknown provider; known: {known}")
        if pid in ids:
            raise r.fail(f"{ep}.id", pid, "this provider is listed twice at the site")
        ids.append(pid)
        shares.append(_kind_map(r, e, "share", ep, kinds, lo=0.0, hi=1.0))
    for kind in kinds:
        total = sum(sh.get(kind, 0.0) for sh in shares)
        if abs(total - 1.0) > 1e-6:
            raise r.fail(f"{p}.providers[*].share.{kind.value}", round(total, 9),
                         "the providers' shares of a pool must add up to 1")
    units = {q.kind: _split(q.units, [sh.get(q.kind, 0.0) for sh in shares]) for q in pools}
    out = []
    for j, e in enumerate(entries):
        out.append(_provider(r, e, f"{p}.providers[{j}]", site_id, catalogue[ids[j]],
                             {k: units[k][j] for k in kinds}, kinds))
    return tuple(out)


def _provider(r: _Reader, e: dict[str, Any], ep: str, site_id: str, cat: dict[str, Any],
              units: dict[Kind, int], kinds: list[Kind]) -> Provider:
    cp = cat["_path"]

    def pick(key: str) -> tuple[Any, str]:
        return (e, ep) if key in e else (cat, cp)

    node, path = pick("docking")
    docking_text = r.text(node, "docking", path)
    try:
        docking = Docking(docking_text)
    except ValueError:
        raise r.fail(f"{path}.docking", docking_text,
                     "unknown docking mode; known: operated (运营层), api (编排层), "
                     "managed (纳管)") from None
    node, path = pick("executor")
    executor = r.text(node, "executor", path)
    node, path = pick("sla")
    sla_node = r.get(node, "sla", path)
    sp = f"{path}.sla"
    sla = Sla(availability=r.sourced(sla_node, "availability", sp, lo=0.0, hi=1.0),
              start_s=r.sourced(sla_node, "start_s", sp, lo=0.0))
    node, path = pick("egress_yuan_per_gb")
    egress = r.sourced(node, "egress_yuan_per_gb", path, lo=0.0)
    quota_raw = _kind_map(r, e, "quota", ep, kinds, lo=0.0, whole=True) if "quota" in e else {}
    quota: dict[Kind, int] = {}
    for kind in kinds:
        q = int(quota_raw.get(kind, units[kind]))
        if q > units[kind]:
            raise r.fail(f"{ep}.quota.{kind.value}", q,
                         f"more than the provider's share of the pool ({units[kind]} units)")
        quota[kind] = q
    node, path = pick("tenant_cap")
    caps = ({k: v for k, v in _kind_map(r, node, "tenant_cap", path, list(Kind), lo=1.0,
                                        whole=True).items() if k in kinds}
            if "tenant_cap" in node else {})
    items: dict[Kind, list[PriceItem]] = {}
    for node, path in ((cat, cp), (e, ep)):
        local: dict[Kind, list[PriceItem]] = {}
        for k, it in enumerate(r.seq(node, "prices", path, required=path == cp)):
            item = _item(r, it, f"{path}.prices[{k}]", cat["id"], site_id, kinds)
            same = [x for x in local.get(item.kind, []) if x.effective_from == item.effective_from]
            if same:
                raise r.fail(f"{path}.prices[{k}].effective_from",
                             item.effective_from.isoformat(),
                             f"a second {item.kind.value} price from the same instant; a new "
                             "item supersedes an old one from a later effective_from")
            local.setdefault(item.kind, []).append(item)
        if path == cp and "price_factor" in e:  # a regional discount on the catalogue
            f = r.sourced(e, "price_factor", ep, lo=0.0, lo_open=True)
            local = {k: [replace(x, yuan_per_unit_h=round(x.yuan_per_unit_h * f, 6),
                                 item_id=f"{x.item_id}x{f:g}",
                                 source=f"{x.source}; x {f:g} at {site_id}: "
                                        f"{e['price_factor']['source']}") for x in v]
                     for k, v in local.items()}
        items.update(local)  # the site's items of a kind replace the catalogue's
    for kind in kinds:
        if units[kind] > 0 and not items.get(kind):
            raise r.fail(f"{ep}.share.{kind.value}", units[kind],
                         f"the provider sells {kind.value} units here but has no "
                         f"{kind.value} price item")
    prices = tuple(x for k in Kind for x in sorted(items.get(k, []),
                                                   key=lambda i: i.effective_from))
    return Provider(
        id=cat["id"], site_id=site_id, name_zh=cat["name_zh"], name_en=cat["name_en"],
        docking=docking, executor=executor,
        units=tuple((k, units[k]) for k in kinds), quota=tuple((k, quota[k]) for k in kinds),
        prices=prices, egress_yuan_per_gb=egress, sla=sla,
        tenant_cap=tuple((k, int(v)) for k, v in caps.items()))


def _item(r: _Reader, it: Any, ip: str, provider_id: str, site_id: str,
          kinds: list[Kind]) -> PriceItem:
    _known_keys(r, it, ip, ITEM_KEYS)
    kind_text = r.text(it, "kind", ip)
    try:
        kind = Kind(kind_text)
    except ValueError:
        raise r.fail(f"{ip}.kind", kind_text,
                     f"unknown kind; known: {', '.join(k.value for k in Kind)}") from None
    price = r.sourced(it, "yuan_per_unit_h", ip, lo=0.0)
    source = it["yuan_per_unit_h"]["source"]
    effective = _instant(r, r.get(it, "effective_from", ip), f"{ip}.effective_from")
    tou: list[TouWindow] = []
    for w_i, w in enumerate(r.seq(it, "tou", ip, required=False)):
        wp = f"{ip}.tou[{w_i}]"
        r.text(w, "source", wp)
        lo = r.number(r.get(w, "from_h", wp), f"{wp}.from_h", lo=0.0, hi=23.0)
        hi = r.number(r.get(w, "to_h", wp), f"{wp}.to_h", lo=1.0, hi=24.0)
        if lo != int(lo) or hi != int(hi) or hi <= lo:
            raise r.fail(f"{wp}.to_h", hi, f"must be a whole hour after from_h ({lo:g})")
        if any(int(lo) < x.to_h and x.from_h < int(hi) for x in tou):
            raise r.fail(f"{wp}.from_h", lo, "overlaps an earlier window of this item")
        tou.append(TouWindow(int(lo), int(hi),
                             r.number(r.get(w, "factor", wp), f"{wp}.factor", lo=0.0)))
    given = it.get("id")
    item_id = given if isinstance(given, str) and given.strip() else (
        f"{provider_id}/{site_id}/{kind.value}/{effective.astimezone(CHINA_TZ):%Y-%m-%dT%H}")
    return PriceItem(item_id, kind, price, effective, tuple(tou), source)


def _instant(r: _Reader, value: Any, field: str) -> dt.datetime:
    """A date or date-time; without a zone it is China time (UTC+8). Must be a whole hour."""
    if isinstance(value, dt.datetime):
        out = value
    elif isinstance(value, dt.date):
        out = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            out = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise r.fail(field, value, "must be a date (2024-01-01) or a date-time "
                                       "(2024-07-01T08:00)") from None
    else:
        raise r.fail(field, value, "must be a date (2024-01-01) or a date-time")
    if out.tzinfo is None:
        out = out.replace(tzinfo=CHINA_TZ)
    if out.minute or out.second or out.microsecond:
        raise r.fail(field, value, "must be on a whole hour")
    return out


def _kind_map(r: _Reader, obj: Any, key: str, path: str, kinds: list[Kind], *,
              lo: float, hi: float | None = None, whole: bool = False) -> dict[Kind, float]:
    """{kind: number, ..., source: text} or {kind: {value, source}, ...}."""
    field = f"{path}.{key}"
    node = r.get(obj, key, path)
    if not isinstance(node, dict):
        raise r.fail(field, node, "must map kind to a number, with a source")
    block_source = node.get("source")
    out: dict[Kind, float] = {}
    for k, v in node.items():
        if k == "source":
            continue
        try:
            kind = Kind(k)
        except ValueError:
            raise r.fail(f"{field}.{k}", k,
                         f"unknown kind; known: {', '.join(x.value for x in Kind)}") from None
        if kind not in kinds:
            raise r.fail(f"{field}.{k}", v, f"the site has no {k} pool")
        if isinstance(v, dict):
            x = r.sourced(node, k, field, lo=lo, hi=hi)
        else:
            if not isinstance(block_source, str) or not block_source.strip():
                raise r.fail(f"{field}.source", block_source, "every number needs a source")
            x = r.number(v, f"{field}.{k}", lo=lo, hi=hi)
        if whole and x != int(x):
            raise r.fail(f"{field}.{k}", x, "must be a whole number of units")
        out[kind] = x
    return out


def _split(total: int, shares: list[float]) -> list[int]:
    """`total` split by `shares` (adding up to 1) into whole numbers that add up to `total`
    (largest remainder; ties to the earlier share)."""
    raw = [total * s for s in shares]
    out = [math.floor(x) for x in raw]
    left = total - sum(out)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - out[i]), i))
    for i in order[:left]:
        out[i] += 1
    return out


def _known_keys(r: _Reader, node: Any, path: str, known: set[str]) -> None:
    if not isinstance(node, dict):
        raise r.fail(path, node, "must be a mapping")
    unknown = sorted(set(node) - known)
    if unknown:
        raise r.fail(f"{path}.{unknown[0]}", node[unknown[0]],
                     f"unknown key; known: {', '.join(sorted(known))}")


def _implicit(s: Any, site_id: str, pools: list[Pool]) -> Provider:
    name_zh = s.get("name_zh", site_id) if isinstance(s, dict) else site_id
    name_en = s.get("name_en", site_id) if isinstance(s, dict) else site_id
    units = tuple((q.kind, q.units) for q in pools)
    return Provider(
        id=site_id, site_id=site_id, name_zh=f"{name_zh}运营方", name_en=f"{name_en} operator",
        docking=Docking.MANAGED, executor="local", units=units, quota=units, prices=(),
        egress_yuan_per_gb=0.0, sla=Sla(1.0, 0.0), energy_priced=True)


def provider_to_dict(p: Provider) -> dict[str, Any]:
    """A provider as plain data (network.json)."""
    return {
        "id": p.id, "name_zh": p.name_zh, "name_en": p.name_en, "docking": p.docking.value,
        "executor": p.executor, "energy_priced": p.energy_priced,
        "units": {k.value: u for k, u in p.units}, "quota": {k.value: u for k, u in p.quota},
        "tenant_cap": {k.value: u for k, u in p.tenant_cap},
        "egress_yuan_per_gb": p.egress_yuan_per_gb,
        "sla": {"availability": p.sla.availability, "start_s": p.sla.start_s},
        "prices": [{"id": i.item_id, "kind": i.kind.value, "yuan_per_unit_h": i.yuan_per_unit_h,
                    "effective_from": i.effective_from.isoformat(),
                    "tou": [{"from_h": w.from_h, "to_h": w.to_h, "factor": w.factor}
                            for w in i.tou], "source": i.source}
                   for i in p.prices],
    }


def rescale_providers(providers: tuple[Provider, ...], kind: Kind,
                      units: int) -> tuple[Provider, ...]:
    """The providers of a site whose `kind` pool now has `units`: each keeps its share (equal
    shares if the pool was empty), split by largest remainder; a quota below the whole share
    shrinks in proportion."""
    old = [p.units_of(kind) for p in providers]
    total = sum(old)
    shares = [u / total for u in old] if total else [1 / len(providers)] * len(providers)
    new = _split(units, shares)
    out = []
    for p, before, after in zip(providers, old, new, strict=True):
        if kind not in dict(p.units):
            out.append(p)
            continue
        q = p.offered(kind)
        quota = after if q >= before else min(after, round(q * after / before)) if before else 0
        out.append(replace(
            p, units=tuple((k, after if k == kind else u) for k, u in p.units),
            quota=tuple((k, quota if k == kind else u) for k, u in p.quota)))
    return tuple(out)
