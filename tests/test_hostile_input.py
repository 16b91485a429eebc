"""Hostile and faulty input files (issue 17): every case is accepted and read correctly, or
refused with an `InputError` whose one line names the file, the field or row and the value —
never a traceback, never a hang (each case runs under an alarm), never a wrong value kept.

The four file kinds: the network file (YAML), traces and job files (CSV), measured energy
series (CSV) and the deployment file (YAML). Cases are grouped by class, as in the issue:
encodings and garbage, hostile or ambiguous YAML, numbers out of the world, the deployment
file's silent mistakes, and refusals that must say what would be right.
"""

from __future__ import annotations

import math
import random
import re
import signal
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from suanwang.bounds import ranges_markdown
from suanwang.cli import app
from suanwang.cli_errors import user_error_message
from suanwang.energy.measured import read_measured
from suanwang.errors import InputError
from suanwang.executors.registry import load_deployment
from suanwang.model import Network
from suanwang.network.loader import load_network
from suanwang.workload.traces import read_trace

ALARM_S = 20  # a hang guard, not a timing: an alias bomb unrefused would take hours

# --------------------------------------------------------------------------------------------
# The base files: small, hand-built, valid
# --------------------------------------------------------------------------------------------

_SRC = "{value: %s, source: t}"
NETWORK = f"""name: tiny
latency_model:
  source: test
  route_factor: 1.2
  fibre_km_per_ms: 200
  overhead_ms: 0.5
  min_rtt_ms: 1
default_bandwidth_gbps: {_SRC % 100}
unit_types:
  general: {{pflops_per_unit: {_SRC % 0.001}, kw_per_unit: {_SRC % 0.3}}}
  intelligent: {{pflops_per_unit: {_SRC % 0.3}, kw_per_unit: {_SRC % 0.7}}}
  hpc: {{pflops_per_unit: {_SRC % 0.01}, kw_per_unit: {_SRC % 0.5}}}
hubs:
  - {{id: nm, name_zh: 内蒙古枢纽, name_en: Inner Mongolia hub, west: true}}
regions:
  - {{id: bth, name_zh: 京津冀, name_en: Beijing, lat: 39.9, lon: 116.4, source: t}}
sites:
  - id: horinger
    name_zh: 和林格尔
    name_en: Horinger
    hub: nm
    province: Inner Mongolia
    lat: 40.4
    lon: 111.8
    pue: {_SRC % 1.2}
    price_yuan_per_kwh: {_SRC % 0.35}
    green_share: {_SRC % 0.45}
    wind_fraction: {_SRC % 0.3}
    solar_fraction: {_SRC % 0.2}
    pools:
      - {{kind: general, units: {_SRC % 1000}}}
latency:
  - {{region: bth, site: horinger, rtt_ms: 5, source: t}}
"""

JOB_HEADER = ("job_id,tenant,origin,kind,units,duration_s,submit_s,rtt_bound_ms,deadline_s,"
              "data_gb,workload")
JOB_ROW = {"job_id": "j1", "tenant": "科研院所", "origin": "bth", "kind": "general", "units": "4",
           "duration_s": "3600", "submit_s": "0", "rtt_bound_ms": "", "deadline_s": "86400",
           "data_gb": "10", "workload": "weather"}
JOB_ROW_2 = "j2,tenant-a,bth,intelligent,1,2.5,10,30,,,"

ALIBABA_HEADER = ("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
                  "creation_time,deletion_time,scheduled_time")
ALIBABA_ROW = {"name": "pod-1", "cpu_milli": "4000", "memory_mib": "100", "num_gpu": "1",
               "gpu_milli": "1000", "gpu_spec": "", "qos": "LS", "pod_phase": "Running",
               "creation_time": "100", "deletion_time": "700", "scheduled_time": "100"}
ALIBABA_ROW_2 = "pod-2,2000,100,0,0,,BE,Running,200,4000,200"

AZURE = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
AZURE_ROW = {"TIMESTAMP": "2023-11-16 18:17:03.9799600", "ContextTokens": "2048",
             "GeneratedTokens": "256"}
AZURE_ROW_2 = "2023-11-16 18:17:05.0000000,100,20"

MEASURED_HEADER = "timestamp,site,green_share,price_yuan_per_kwh,note"
MEASURED_ROW = {"timestamp": "2024-06-01T00:00:00+08:00", "site": "horinger",
                "green_share": "0.4", "price_yuan_per_kwh": "0.35", "note": "和林格尔"}
MEASURED_ROW_2 = "2024-06-01T01:00:00+08:00,horinger,0.5,0.36,"

DEPLOYMENT = """# 部署文件: 和林格尔 runs locally
default: {backend: clock}
sites:
  horinger: {backend: local, time_margin_s: 1}
"""


def _csv(header: str, base: dict[str, str], second: str, **cells: str) -> str:
    row = {**base, **cells}
    return f"{header}\n{','.join(row.values())}\n{second}\n"


def jobs(**cells: str) -> str:
    return _csv(JOB_HEADER, JOB_ROW, JOB_ROW_2, **cells)


def alibaba(**cells: str) -> str:
    return _csv(ALIBABA_HEADER, ALIBABA_ROW, ALIBABA_ROW_2, **cells)


def azure(**cells: str) -> str:
    return _csv(AZURE.strip(), AZURE_ROW, AZURE_ROW_2, **cells)


def measured(**cells: str) -> str:
    return _csv(MEASURED_HEADER, MEASURED_ROW, MEASURED_ROW_2, **cells)


def net(old: str, new: str) -> str:
    assert old in NETWORK, old
    return NETWORK.replace(old, new, 1)


def deploy(text: str) -> str:
    return f"default: {{backend: clock}}\nsites:\n  horinger: {text}\n"


# --------------------------------------------------------------------------------------------
# A case: the file's bytes, and what must come of it
# --------------------------------------------------------------------------------------------

KINDS = ("network", "trace", "measured", "deployment")
BASE: dict[str, str] = {"network": NETWORK, "trace": jobs(), "measured": measured(),
                        "deployment": DEPLOYMENT}
FILE_NAME = {"network": "network.yaml", "trace": "jobs.csv", "measured": "measured.csv",
             "deployment": "deployment.yaml"}


@dataclass(frozen=True)
class Case:
    kind: str  # one of KINDS
    data: bytes | str  # the file; "{LISTEN}" / "{DEAD}": a port that answers / does not
    refused: tuple[str, ...] = ()  # every text the one-line refusal must hold; () = accepted
    check: Callable[[Any], None] | None = None  # for an accepted file: the values read
    name: str = ""  # file name (default by kind)
    cli: bool = True  # also run the refusal through the CLI (network and trace kinds)
    device: str = ""  # read this device instead of a file written from `data`

    @property
    def accepted(self) -> bool:
        return not self.refused


def ok(kind: str, data: bytes | str, check: Callable[[Any], None] | None = None,
       **kw: Any) -> Case:
    return Case(kind, data, (), check or BASE_CHECK[kind], **kw)


def no(kind: str, data: bytes | str, *refused: str, **kw: Any) -> Case:
    return Case(kind, data, refused, **kw)


# the values the base files must be read as (so that an accepted variant is also correct)
def _network_ok(n: Network) -> None:
    site = n.site("horinger")
    assert (site.name_zh, site.pue, site.pools[0].units) == ("和林格尔", 1.2, 1000)
    assert n.hubs[0].west is True and n.rtt_ms[("bth", "horinger")] == 5.0


def _trace_ok(read: Any) -> None:
    j1 = next(j for j in read.jobs if j.job_id == "j1")
    assert (j1.tenant, j1.units, j1.duration_s, j1.deadline_s, j1.data_gb) == (
        "科研院所", 4, 3600.0, 86400.0, 10.0)
    assert len(read.jobs) == 2


def _measured_ok(m: Any) -> None:
    s = m.sites["horinger"]
    assert list(s.values["green_share"]) == [0.4, 0.5]
    assert list(s.values["price_yuan_per_kwh"]) == [0.35, 0.36]


def _deployment_ok(d: Any) -> None:
    assert d["horinger"].backend == "local" and d["horinger"].settings == {"time_margin_s": 1}


BASE_CHECK: dict[str, Callable[[Any], None]] = {
    "network": _network_ok, "trace": _trace_ok, "measured": _measured_ok,
    "deployment": _deployment_ok}


def job_check(**want: Any) -> Callable[[Any], None]:
    def check(read: Any) -> None:
        j1 = next(j for j in read.jobs if j.job_id in ("j1", "pod-1"))
        for k, v in want.items():
            got = getattr(j1, k)
            assert got == v, (k, got, v)
            if isinstance(v, float):
                assert math.copysign(1, got) == math.copysign(1, v), (k, got, v)  # -0.0
    return check


def site_check(**want: Any) -> Callable[[Network], None]:
    def check(n: Network) -> None:
        site = n.site("horinger")
        for k, v in want.items():
            got = site.pools[0].units if k == "units" else getattr(site, k)
            assert got == v and math.copysign(1, got) == math.copysign(1, v), (k, got, v)
    return check


CASES: dict[str, Case] = {}


def add(group: str, cases: dict[str, Case]) -> None:
    for name, case in cases.items():
        CASES[f"{group}/{case.kind}/{name}"] = case


# --------------------------------------------------------------------------------------------
# 1. Encodings and garbage: the same variants of each of the four kinds
# --------------------------------------------------------------------------------------------

_NOISE = bytes(random.Random(17).randrange(256) for _ in range(600))


def _encoding_cases(kind: str) -> dict[str, Case]:
    text = BASE[kind]
    utf8 = text.encode("utf-8")
    crlf = text.replace("\n", "\r\n").encode("utf-8")
    line = text.splitlines()[1]  # put a NUL in the middle of the second line
    nul = text.replace(line, line[:5] + "\0" + line[5:], 1).encode("utf-8")
    esc = text.replace(line, line[:5] + "\x1b" + line[5:], 1).encode("utf-8")
    return {
        "utf-8 with BOM": ok(kind, b"\xef\xbb\xbf" + utf8),
        "CRLF line ends": ok(kind, crlf),
        "BOM and CRLF": ok(kind, b"\xef\xbb\xbf" + crlf),
        "UTF-16 LE with BOM": no(kind, text.encode("utf-16"), "not UTF-8", "UTF-16",
                                 "byte-order mark FF FE"),
        "UTF-16 BE with BOM": no(kind, b"\xfe\xff" + text.encode("utf-16-be"), "UTF-16",
                                 "big-endian"),
        "UTF-16 LE without BOM": no(kind, text.encode("utf-16-le"), "UTF-16",
                                    "without a byte-order mark"),
        "UTF-32 with BOM": no(kind, text.encode("utf-32"), "UTF-32"),
        "GBK Chinese": no(kind, text.encode("gbk"), "not UTF-8", "GBK/GB18030", "line "),
        "Latin-1": no(kind, text.replace("t", "ä", 1).encode("latin-1", errors="replace"),
                      "not UTF-8", "byte 0xe4", "line "),
        "binary noise": no(kind, _NOISE, "not "),
        "PNG image": no(kind, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + _NOISE[:64],
                        "not a text file"),
        "NUL byte in a field": no(kind, nul, "NUL byte", "line 2"),
        "ESC control byte": no(kind, esc, "control byte 0x1b", "line 2"),
    }


for _kind in KINDS:
    add("encoding", _encoding_cases(_kind))
    add("encoding", {"/dev/zero (endless NUL bytes)": no(_kind, b"", "NUL byte", "offset 0",
                                                         device="/dev/zero")})

_HUGE_FIELD = '"' + "a" * 200_000 + '"'
add("encoding", {
    "a 200,000-character field": no("trace", jobs(workload=_HUGE_FIELD), "line 2",
                                    "not valid CSV", "field larger than field limit"),
    "an unterminated quote": no("trace", jobs(tenant='"open'), "row 1", "fields"),
    "measured: a 200,000-character field": no("measured", measured(note=_HUGE_FIELD),
                                              "line 2", "not valid CSV"),
    "measured: a ragged row": no("measured", measured(note="x,y"), "row 1", "'2024-06-01",
                                 "has 6 fields; the header has 5"),
    "empty job file": no("trace", "", "header", "the file is empty"),
    "empty measured file": no("measured", "", "header", "the file is empty"),
    "job file of blank lines after the header": ok("trace", JOB_HEADER + "\r\n\r\n\n",
                                                   lambda r: _eq(r.jobs, [])),
})

# --------------------------------------------------------------------------------------------
# 2. YAML that is hostile or ambiguous (network and deployment files)
# --------------------------------------------------------------------------------------------


def _bomb(levels: int = 9) -> str:
    lines = ["lol0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        lines.append(f"lol{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


_DEEP_FLOW = "x: " + "[" * 20_000 + "]" * 20_000 + "\n"
_DEEP_BLOCK = "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v: 1\n"
_CHAIN = "a0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 300))

for _kind, _base in (("network", NETWORK), ("deployment", DEPLOYMENT)):
    add("yaml", {
        "alias bomb (10^10 nodes)": no(_kind, _base + _bomb(), "line ", "alias bomb"),
        "recursive alias": no(_kind, _base + "loop: &loop [1, *loop]\n", "line ", "recursive"),
        "flow brackets 20,000 deep": no(_kind, _base + _DEEP_FLOW, "line ", "deeper than 64"),
        "block mappings 200 deep": no(_kind, _base + _DEEP_BLOCK, "line ", "deeper than 64"),
        "alias chain 300 deep": no(_kind, _base + _CHAIN, "line ", "deeper than 64"),
        "python tag": no(_kind, _base + "evil: !!python/object/apply:os.system [id]\n",
                         "line ", "python", "not read"),
        "syntax error": no(_kind, _base + "broken: [1, 2\nnext: 3\n", "line ",
                           "is not valid YAML"),
        "tab indentation": no(_kind, _base + "tabbed:\n\t- 1\n", "line ", "not valid YAML"),
        "larger than 4 MiB": no(_kind, _base + "# " + "x" * (4 * 1024 * 1024) + "\n",
                                "too large", "bytes"),
        "a 5000-digit integer": no(_kind, _base + "big: " + "9" * 5000 + "\n", "line ",
                                   "too large"),
        "top-level list": no(_kind, "- a\n- b\n", "(document)", "must be a mapping"),
    })

add("yaml", {
    "pue given twice": no("network", net("    pue: {value: 1.2, source: t}\n",
                                         "    pue: {value: 1.2, source: t}\n"
                                         "    pue: {value: 1.9, source: t}\n"),
                          "line 26", "key pue", "on line 25 and on line 26"),
    "top-level name given twice": no("network", NETWORK + "name: other\n", "key name",
                                     "on line 1 and on line 34"),
    "value given twice in a flow mapping": no(
        "network", net("default_bandwidth_gbps: {value: 100,", "default_bandwidth_gbps: "
                       "{value: 100, value: 10,"), "line 8", "key value"),
    "site given twice": no("deployment", DEPLOYMENT + "  horinger: {backend: clock}\n",
                           "key horinger", "on line 4 and on line 5"),
    "1e15 read as a number (then out of range)": no(
        "network", net("units: {value: 1000,", "units: {value: 1e15,"),
        "sites[0].pools[0].units.value", "1000000000000000.0", "out of range",
        "1,000,000,000"),
    "1e3 read as 1000 units": ok("network", net("units: {value: 1000,", "units: {value: 1e3,"),
                                 site_check(units=1000)),
    "1_000 read as 1000 units": ok("network", net("units: {value: 1000,",
                                                  "units: {value: 1_000,"),
                                   site_check(units=1000)),
    "012 read as decimal 12": ok("network", net("units: {value: 1000,", "units: {value: 012,"),
                                 site_check(units=12)),
    "2.5E-1 price": ok("network", net("price_yuan_per_kwh: {value: 0.35,",
                                      "price_yuan_per_kwh: {value: 2.5E-1,"),
                       site_check(price_yuan_per_kwh=0.25)),
    "1:30 is text, not 90": no("network", net("pue: {value: 1.2,", "pue: {value: 1:30,"),
                               "sites[0].pue.value", "'1:30'", "must be a number"),
    "yes is text, not true": no("network", net("west: true", "west: yes"), "hubs[0].west",
                                "'yes'", "true or false"),
    "anchors and a merge key": ok("network", net(
        "  hpc: {pflops_per_unit: {value: 0.01, source: t}, kw_per_unit: {value: 0.5, "
        "source: t}}",
        "  hpc: &hpc {pflops_per_unit: &p {value: 0.01, source: t}, kw_per_unit: "
        "{<<: *p, value: 0.5}}")),
    "empty deployment file": ok("deployment", "",
                                lambda d: _eq(d["horinger"].backend, "clock")),
})

# --------------------------------------------------------------------------------------------
# 3. Numbers out of the world
# --------------------------------------------------------------------------------------------

_PUE = "pue: {value: 1.2,"
add("numbers", {
    "pue NaN": no("network", net(_PUE, "pue: {value: .nan,"), "sites[0].pue.value", "nan",
                  "NaN", "from 1 to 3", "e.g. 1.25"),
    "pue inf": no("network", net(_PUE, "pue: {value: .inf,"), "sites[0].pue.value", "inf",
                  "infinite"),
    "pue 1e308": no("network", net(_PUE, "pue: {value: 1e308,"), "sites[0].pue.value",
                    "1e+308", "out of range"),
    "price -inf": no("network", net("price_yuan_per_kwh: {value: 0.35,",
                                    "price_yuan_per_kwh: {value: -.inf,"),
                     "price_yuan_per_kwh.value", "-inf", "infinite"),
    "units 1e308": no("network", net("units: {value: 1000,", "units: {value: 1e308,"),
                      "units.value", "1e+308", "out of range"),
    "units 10^30 (an int)": no("network", net("units: {value: 1000,",
                                              "units: {value: 1000000000000000000000000000000,"),
                               "units.value", "1000000000000000000000000000000",
                               "out of range"),
    "units 2.5": no("network", net("units: {value: 1000,", "units: {value: 2.5,"),
                    "units.value", "2.5", "whole number"),
    "green share 45 (a percentage)": no("network", net("green_share: {value: 0.45,",
                                                       "green_share: {value: 45,"),
                                        "green_share.value", "45", "from 0 to 1"),
    "lat -0.0 read as 0": ok("network", net("    lat: 40.4", "    lat: -0.0"),
                             site_check(lat=0.0)),
    "lat 91": no("network", net("    lat: 40.4", "    lat: 91"), "sites[0].lat", "91",
                 "from -90 to 90 degrees"),
    "lon NaN": no("network", net("    lon: 111.8", "    lon: .NaN"), "sites[0].lon", "nan"),
    "rtt_ms 0": no("network", net("rtt_ms: 5,", "rtt_ms: 0,"), "latency[0].rtt_ms", "0",
                   "> 0 and <= 10,000 ms"),
    "rtt_ms 1e308": no("network", net("rtt_ms: 5,", "rtt_ms: 1e308,"), "latency[0].rtt_ms",
                       "1e+308"),
    "bandwidth 1e308": no("network", net("default_bandwidth_gbps: {value: 100,",
                                         "default_bandwidth_gbps: {value: 1e308,"),
                          "default_bandwidth_gbps.value", "1e+308", "Gbps"),
    "kw_per_unit NaN": no("network", net("kw_per_unit: {value: 0.3,",
                                         "kw_per_unit: {value: .nan,"),
                          "unit_types.general.kw_per_unit.value", "nan"),
    "pflops_per_unit -0.0": no("network", net("pflops_per_unit: {value: 0.001,",
                                              "pflops_per_unit: {value: -0.0,"),
                               "pflops_per_unit.value", "-0.0", "> 0"),
    "route_factor 0.5": no("network", net("route_factor: 1.2", "route_factor: 0.5"),
                           "latency_model.route_factor", "0.5", "from 1 to 10"),
    "fibre speed inf": no("network", net("fibre_km_per_ms: 200", "fibre_km_per_ms: .inf"),
                          "latency_model.fibre_km_per_ms", "inf"),
    # job files
    "units NaN": no("trace", jobs(units="nan"), "row 1, column units", "'nan'", "NaN"),
    "job units 1e308": no("trace", jobs(units="1e308"), "row 1, column units", "'1e308'",
                      "out of range"),
    "job units 0": no("trace", jobs(units="0"), "row 1, column units", "'0'", ">= 1"),
    "job units 2.5": no("trace", jobs(units="2.5"), "row 1, column units", "'2.5'",
                    "whole number"),
    "units of 5,000 digits": no("trace", jobs(units="9" * 5000), "row 1, column units",
                                "'9999", "must be"),
    "submit of 5,000 digits": no("trace", jobs(submit_s="9" * 5000), "row 1, column submit_s",
                                 "'9999", "must be"),
    "units 0x10 (hex) is not a count": no("trace", jobs(units="0x10"), "row 1, column units",
                                          "'0x10'", "must be an integer"),
    "units 1e3 read as 1000": ok("trace", jobs(units="1e3"), job_check(units=1000)),
    "units 8.0 read as 8": ok("trace", jobs(units="8.0"), job_check(units=8)),
    "duration inf": no("trace", jobs(duration_s="inf"), "row 1, column duration_s", "'inf'",
                       "infinite"),
    "duration -0.0": no("trace", jobs(duration_s="-0.0"), "row 1, column duration_s", "'-0.0'",
                        "> 0"),
    "duration 1e308": no("trace", jobs(duration_s="1e308"), "row 1, column duration_s",
                         "'1e308'", "out of range"),
    "duration past the longest run": no("trace", jobs(duration_s="63072001"),
                                        "row 1, column duration_s", "'63072001'",
                                        "<= 63,072,000 s"),
    "submit + duration past the longest run": no(
        "trace", jobs(submit_s="63070000", deadline_s="63100000"), "row 1, column duration_s",
        "past the longest run", "730 days"),
    "submit -0.0 read as 0": ok("trace", jobs(submit_s="-0.0"), job_check(submit_s=0.0)),
    "submit 1e308": no("trace", jobs(submit_s="1e308"), "row 1, column submit_s", "'1e308'"),
    "submit NaN": no("trace", jobs(submit_s="NaN"), "row 1, column submit_s", "'NaN'"),
    "data_gb 1e308": no("trace", jobs(data_gb="1e308"), "row 1, column data_gb", "'1e308'",
                        "1,000,000 GB"),
    "data_gb 2e6": no("trace", jobs(data_gb="2e6"), "row 1, column data_gb", "'2e6'"),
    "data_gb -1": no("trace", jobs(data_gb="-1"), "row 1, column data_gb", "'-1'"),
    "data_gb -0.0 read as 0": ok("trace", jobs(data_gb="-0.0"), job_check(data_gb=0.0)),
    "deadline inf": no("trace", jobs(deadline_s="inf"), "row 1, column deadline_s", "'inf'"),
    "deadline before submit": no("trace", jobs(submit_s="100", deadline_s="50"),
                                 "row 1, column deadline_s", "'50'", "> submit_s"),
    "rtt bound 1e308": no("trace", jobs(rtt_bound_ms="1e308", deadline_s=""),
                          "row 1, column rtt_bound_ms", "'1e308'", "10,000 ms"),
    "rtt bound 0": no("trace", jobs(rtt_bound_ms="0", deadline_s=""),
                      "row 1, column rtt_bound_ms", "'0'", "> 0"),
    # the Alibaba pod list
    "alibaba creation 1e308": no("trace", alibaba(creation_time="1e308"),
                                 "row 1, column creation_time", "'1e308'", "out of range",
                                 name="pods.csv"),
    "alibaba creation NaN": no("trace", alibaba(creation_time="nan"),
                               "row 1, column creation_time", "'nan'", name="pods.csv"),
    "alibaba pods three years apart": no("trace", alibaba(creation_time="100000000",
                                                          deletion_time="100000600",
                                                          scheduled_time="100000000"),
                                         "row 1, column deletion_time", "longest run",
                                         name="pods.csv"),
    "alibaba gpu_milli 2000": no("trace", alibaba(gpu_milli="2000"),
                                 "row 1, column gpu_milli", "'2000'", "1,000",
                                 name="pods.csv"),
    "alibaba num_gpu inf": no("trace", alibaba(num_gpu="inf"), "row 1, column num_gpu",
                              "'inf'", "infinite", name="pods.csv"),
    "alibaba read correctly": ok("trace", alibaba(), job_check(units=1, duration_s=600.0,
                                                               submit_s=0.0), name="pods.csv"),
    # the Azure LLM trace
    "azure year 9999": no("trace", azure(TIMESTAMP="9999-11-16 18:17:03.9799600"),
                          "row 1, column TIMESTAMP", "year 9999", "2000-2100",
                          name="azure_code.csv"),
    "azure a year apart from a decade on": no(
        "trace", azure(TIMESTAMP="2033-11-16 18:17:03.9799600"), "row 1, column TIMESTAMP",
        "longest run", name="azure_code.csv"),
    "azure tokens 1e308": no("trace", azure(ContextTokens="1e308"),
                             "row 1, column ContextTokens", "'1e308'", "tokens",
                             name="azure_code.csv"),
    "azure tokens -1": no("trace", azure(GeneratedTokens="-1"),
                          "row 1, column GeneratedTokens", "'-1'", name="azure_code.csv"),
    "azure not a time": no("trace", azure(TIMESTAMP="yesterday"), "row 1, column TIMESTAMP",
                           "'yesterday'", "2023-11-16", name="azure_code.csv"),
    # measured series
    "measured year 9999": no("measured", measured(timestamp="9999-12-31T23:00:00-08:00"),
                             "row 1, column timestamp", "year 9999", "2000-2100"),
    "measured year 1900": no("measured", measured(timestamp="1900-06-01T00:00:00+08:00"),
                             "row 1, column timestamp", "year 1900"),
    "measured green share NaN": no("measured", measured(green_share="NaN"),
                                   "row 1, column green_share", "'NaN'", "NaN"),
    "measured green share 45": no("measured", measured(green_share="45"),
                                  "row 1, column green_share", "'45'", "not a percentage"),
    "measured price inf": no("measured", measured(price_yuan_per_kwh="inf"),
                             "row 1, column price_yuan_per_kwh", "'inf'", "infinite"),
    "measured price 1e308": no("measured", measured(price_yuan_per_kwh="1e308"),
                               "row 1, column price_yuan_per_kwh", "'1e308'", "per MWh"),
    "measured price -0.0 read as 0": ok("measured", measured(price_yuan_per_kwh="-0.0"),
                                        lambda m: _positive_zero(
                                            m.sites["horinger"].values["price_yuan_per_kwh"][0])),
    "measured no time zone": no("measured", measured(timestamp="2024-06-01T00:00:00"),
                                "row 1, column timestamp", "no time zone"),
    "measured not on the hour": no("measured", measured(timestamp="2024-06-01T00:30:00+08:00"),
                                   "row 1, column timestamp", "start of an hour"),
    "measured hour given twice": no("measured", measured(timestamp="2024-06-01T01:00:00+08:00"),
                                    "row 2, column timestamp", "duplicate"),
})


def _parquet(**cells: object) -> bytes:
    """The base job file as Parquet, with the first row's `cells` replaced."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    row: dict[str, object] = {"job_id": "j1", "tenant": "科研院所", "origin": "bth",
                              "kind": "general", "units": 4, "duration_s": 3600.0,
                              "submit_s": 0.0, "rtt_bound_ms": None, "deadline_s": 86400.0,
                              "data_gb": 10.0, "workload": "weather"}
    second: dict[str, object] = {"job_id": "j2", "tenant": "tenant-a", "origin": "bth",
                                 "kind": "intelligent", "units": 1, "duration_s": 2.5,
                                 "submit_s": 10.0, "rtt_bound_ms": 30.0, "deadline_s": None,
                                 "data_gb": None, "workload": ""}
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([{**row, **cells}, second]), buffer)
    return buffer.getvalue()


add("numbers", {
    "parquet read correctly": ok("trace", _parquet(), name="jobs.parquet"),
    "parquet duration inf": no("trace", _parquet(duration_s=math.inf), "row 1, column duration_s",
                               "inf", "infinite", name="jobs.parquet"),
    "parquet data_gb 1e308": no("trace", _parquet(data_gb=1e308), "row 1, column data_gb",
                                "1e+308", "out of range", name="jobs.parquet"),
    "parquet submit -0.0 read as 0": ok("trace", _parquet(submit_s=-0.0),
                                        job_check(submit_s=0.0), name="jobs.parquet"),
    "parquet of garbage": no("trace", _NOISE, "not a readable Parquet file",
                             name="jobs.parquet"),
})


def _positive_zero(x: float) -> None:
    assert x == 0.0 and math.copysign(1, x) == 1.0


# --------------------------------------------------------------------------------------------
# 4. The deployment file's silent mistakes: unknown keys, NaN/inf settings, a dead Ray address
# --------------------------------------------------------------------------------------------

add("deployment", {
    "unknown key on local": no("deployment", deploy("{backend: local, nice: 5}"),
                               "line 3, sites.horinger.nice", "local.nice", "5", "unknown setting",
                               "known: grace_s, run_as, time_margin_frac, time_margin_s"),
    "unknown key on slurm": no("deployment", deploy("{backend: slurm, partitionn: x}"),
                               "slurm.partitionn", "'x'", "known:", "partition"),
    "unknown key on ray": no("deployment", deploy("{backend: ray, adress: 'h:1'}"),
                             "ray.adress", "known:", "address"),
    "unknown key on clock": no("deployment", deploy("{backend: clock, partition: x}"),
                               "sites.horinger.partition", "takes no settings"),
    "unknown top-level key": no("deployment", "site:\n  horinger: {backend: local}\n",
                                "site", "unknown key; known: default, sites"),
    "unknown key on the default": no("deployment", "default: {backend: local, grace: 1}\n",
                                     "line 1, default.grace", "unknown setting"),
    "units per CPU NaN": no("deployment", deploy("{backend: slurm, units_per_cpu: .nan}"),
                            "slurm.units_per_cpu", "nan", "NaN", "e.g. 1"),
    "units per CPU inf": no("deployment", deploy("{backend: slurm, units_per_cpu: .inf}"),
                            "slurm.units_per_cpu", "inf", "infinite"),
    "units per CPU 1e308": no("deployment", deploy("{backend: slurm, units_per_cpu: 1e308}"),
                              "slurm.units_per_cpu", "1e+308", "out of range"),
    "units per CPU -1": no("deployment", deploy("{backend: slurm, units_per_cpu: -1}"),
                           "slurm.units_per_cpu", "-1", "> 0"),
    "units per CPU text": no("deployment", deploy("{backend: slurm, units_per_cpu: many}"),
                             "slurm.units_per_cpu", "'many'", "a number > 0"),
    "units per GPU 1e2 read as 100": ok("deployment",
                                        deploy("{backend: slurm, units_per_gpu: 1e2}"),
                                        lambda d: _eq(d["horinger"].settings,
                                                      {"units_per_gpu": 100.0})),
    "local time margin NaN": no("deployment", deploy("{backend: local, time_margin_s: .nan}"),
                                "local.time_margin_s", "nan"),
    "ray units per resource inf": no("deployment",
                                     deploy("{backend: ray, units_per_resource: .inf}"),
                                     "ray.units_per_resource", "inf"),
    "ray connect timeout 0": no("deployment", deploy("{backend: ray, connect_timeout_s: 0}"),
                                "ray.connect_timeout_s", "0", "> 0"),
    "ray address nobody answers": no("deployment",
                                     deploy("{backend: ray, address: '127.0.0.1:{DEAD}'}"),
                                     "line 3, sites.horinger.address", "127.0.0.1:",
                                     "no Ray cluster answers", "ray start --head"),
    "ray address that answers": ok("deployment",
                                   deploy("{backend: ray, address: '127.0.0.1:{LISTEN}'}"),
                                   lambda d: _eq(d["horinger"].backend, "ray")),
    "unknown backend": no("deployment", deploy("{backend: kubernetes}"),
                          "sites.horinger.backend", "'kubernetes'", "known: clock"),
    "no backend": no("deployment", deploy("{partition: x}"), "sites.horinger.backend",
                     "e.g. {backend: local}"),
    "unknown site": no("deployment", "sites:\n  atlantis: {backend: local}\n",
                       "sites.atlantis", "unknown site; known: horinger"),
    "sbatch args not a list": no("deployment", deploy("{backend: slurm, sbatch_args: -x}"),
                                 "slurm.sbatch_args", "'-x'", "e.g. [--qos=normal"),
    "use_sacct yes is text": no("deployment", deploy("{backend: slurm, use_sacct: yes}"),
                                "slurm.use_sacct", "'yes'", "true or false"),
})


def _eq(got: Any, want: Any) -> None:
    assert got == want, (got, want)


# --------------------------------------------------------------------------------------------
# 5. Refusals that say what would be right (type, range, example), beyond those above
# --------------------------------------------------------------------------------------------

add("messages", {
    "pue as text": no("network", net(_PUE, "pue: {value: high,"), "sites[0].pue.value",
                      "'high'", "must be a number from 1 to 3, e.g. 1.25"),
    "pue out of range": no("network", net(_PUE, "pue: {value: 5,"), "sites[0].pue.value",
                           "5", "out of range: must be a number from 1 to 3, e.g. 1.25"),
    "price per MWh": no("network", net("price_yuan_per_kwh: {value: 0.35,",
                                       "price_yuan_per_kwh: {value: 350,"),
                        "price_yuan_per_kwh.value", "350", "yuan per kWh, e.g. 0.35"),
    "job units text": no("trace", jobs(units="four"), "row 1, column units", "'four'",
                         "must be an integer", "from 1 to 100,000,000 units, e.g. 8"),
    "job duration empty": no("trace", jobs(duration_s=""), "row 1, column duration_s",
                             "missing", "e.g. 3600"),
    "job data_gb text": no("trace", jobs(data_gb="lots"), "row 1, column data_gb",
                           "'lots'", "from 0 to 1,000,000 GB, e.g. 10"),
    "job column Data_GB": no("trace", jobs().replace("data_gb", "Data_GB", 1),
                             "column Data_GB", "did you mean data_gb?"),
    "job column deadline-s": no("trace", jobs().replace("deadline_s", "deadline-s", 1),
                                "column deadline-s", "did you mean deadline_s?"),
    "job extra column kept out": ok("trace", jobs().replace("workload", "comment", 1),
                                    job_check(workload="")),
    "measured column Green_Share": no("measured",
                                      measured().replace("green_share", "Green_Share", 1),
                                      "column Green_Share", "did you mean green_share?"),
    "network key PUE": no("network", net("    pue:", "    PUE:"), "line 25, sites[0].PUE",
                          "did you mean pue?"),
    "network optional key misspelt": no("network", net(
        "    pue:", "    grid-intensity-g-per-kwh: {value: 100, source: t}\n    pue:"),
        "line 25, sites[0].grid-intensity-g-per-kwh", "did you mean grid_intensity_g_per_kwh?"),
    "measured green share text": no("measured", measured(green_share="high"),
                                    "row 1, column green_share", "'high'", "e.g. 0.42"),
    "deployment grace text": no("deployment", deploy("{backend: local, grace_s: soon}"),
                                "local.grace_s", "'soon'", "from 0 to 3,600 s, e.g. 5"),
    "pue without its source": no("network", net("pue: {value: 1.2, source: t}", "pue: 1.2"),
                                 "sites[0].pue", "1.2", "e.g. {value: 1.25, source:"),
    "pools not a list": no("network", net("    pools:\n      - {kind: general, units: "
                                          "{value: 1000, source: t}}",
                                          "    pools: {kind: general}"),
                           "sites[0].pools", "'general'", "a list (lines starting with -"),
    "deployment sites as a list": no("deployment", "sites:\n  - horinger\n", "sites",
                                     "['horinger']", "e.g. {horinger: {backend: local}}"),
    "deployment partition empty": no("deployment", deploy("{backend: slurm, partition: ''}"),
                                     "slurm.partition", "''", "non-empty text, e.g."),
})


# --------------------------------------------------------------------------------------------
# Running a case
# --------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _alarm() -> Iterator[None]:
    def hang(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the case did not end within {ALARM_S} s (a hang)")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(ALARM_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def ports() -> Iterator[dict[str, str]]:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead = closed.getsockname()[1]
    closed.close()  # bound then closed: nothing listens on it
    yield {"{LISTEN}": str(listening.getsockname()[1]), "{DEAD}": str(dead)}
    listening.close()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Network:
    path = tmp_path_factory.mktemp("net") / "tiny.yaml"
    path.write_text(NETWORK, encoding="utf-8")
    return load_network(path)


def write_case(case: Case, directory: Path, ports: dict[str, str]) -> Path:
    if case.device:
        return Path(case.device)
    path = directory / (case.name or FILE_NAME[case.kind])
    data = case.data
    if isinstance(data, str):
        for mark, port in ports.items():
            data = data.replace(mark, port)
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def read_case(case: Case, path: Path, network: Network) -> Any:
    if case.kind == "network":
        return load_network(path)
    if case.kind == "trace":
        return read_trace(path, network)
    if case.kind == "measured":
        return read_measured(path, network)
    return load_deployment(path, [s.id for s in network.sites])


@pytest.mark.parametrize("name", list(CASES))
def test_case_is_read_correctly_or_refused_naming_file_field_and_value(
        name: str, tmp_path: Path, ports: dict[str, str], tiny: Network) -> None:
    case = CASES[name]
    path = write_case(case, tmp_path, ports)
    if case.accepted:
        result = read_case(case, path, tiny)
        assert case.check is not None
        case.check(result)
        return
    with pytest.raises(InputError) as info:
        read_case(case, path, tiny)
    message = user_error_message(info.value)  # the line the CLI prints after "error: "
    assert message is not None and "\n" not in message, message
    assert len(message) < 1000, message  # a huge value is cut, the line stays readable
    assert message.startswith(f"{path}: "), message
    for text in case.refused:
        text = ports.get(text, text)
        assert text in message, f"{text!r} not in {message!r}"
    if case.kind in ("network", "deployment") and not name.startswith("encoding/") \
            and "(document)" not in message and "too large" not in message:
        assert re.match(rf"{re.escape(str(path))}: line \d+, ", message), message  # YAML: line


CLI_CASES = [n for n, c in CASES.items()
             if not c.accepted and c.cli and c.kind in ("network", "trace")]


@pytest.mark.parametrize("name", CLI_CASES)
def test_the_cli_refuses_in_one_line_with_exit_2(name: str, tmp_path: Path,
                                                 ports: dict[str, str], tiny: Network) -> None:
    case = CASES[name]
    path = write_case(case, tmp_path, ports)
    if case.kind == "network":
        args = ["network", "show", "--network", str(path)]
    else:
        net_path = tmp_path / "tiny.yaml"
        net_path.write_text(NETWORK, encoding="utf-8")
        args = ["simulate", "--network", str(net_path), "--trace", str(path),
                "--policy", "nearest"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}"), result.output
    assert "Traceback" not in result.output


def test_the_table_has_every_class_and_kind() -> None:
    groups = {n.split("/")[0] for n in CASES}
    kinds = {c.kind for c in CASES.values()}
    assert groups == {"encoding", "yaml", "numbers", "deployment", "messages"}
    assert kinds == set(KINDS)
    assert len(CASES) >= 120
    assert sum(c.accepted for c in CASES.values()) >= 20  # and accepted ones read correctly


def test_docs_input_ranges_is_the_table_in_code() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "input-ranges.md"
    assert docs.read_text(encoding="utf-8").strip() == ranges_markdown().strip()

