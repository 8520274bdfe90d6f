"""``tousu stores import FILE.csv``: all or nothing, every bad line named, fast enough for a whole chain."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import Caller, tousu_in_process

TOUSU = Path(sys.executable).with_name("tousu")
REGIONS = ("华南区", "华东区", "华北区", "西南区", "华中区")


def csv_of(tmp_path: Path, text: str, bom: bool = False, name: str = "stores.csv") -> Path:
    path = tmp_path / name
    path.write_text(("\ufeff" if bom else "") + text, encoding="utf-8", newline="")
    return path


def chain(rows: int) -> str:
    lines = ["id,name,region,active"]
    for n in range(rows):
        active = "false" if n % 50 == 0 else ("" if n % 3 else "true")
        lines.append(f"CN-{n:04d},深圳福田第{n}号门店（购物中心店）,{REGIONS[n % len(REGIONS)]},{active}")
    return "\r\n".join(lines) + "\r\n"


def run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return tousu_in_process("stores", "import", *args, database_url=database_url)


def test_500_stores_with_chinese_names_import_in_under_5_seconds(
    database_url: str, admin: Caller, tmp_path: Path
) -> None:
    path = csv_of(tmp_path, chain(500))
    started = time.perf_counter()
    result = run(database_url, str(path))
    took = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    assert "imported 500 stores" in result.stdout
    assert took < 5, f"{took:.2f} s"
    stores = admin.get("/v1/stores").json()
    assert len(stores) == 500
    assert stores[7] == {
        "id": "CN-0007",
        "name": "深圳福田第7号门店（购物中心店）",
        "region": REGIONS[2],
        "active": True,
    }
    assert stores[50]["active"] is False and stores[0]["active"] is False
    # Again, with names changed: replaced, not added.
    result = run(database_url, str(csv_of(tmp_path, chain(500).replace("门店", "分店"))))
    assert result.returncode == 0, result.stderr
    assert admin.get("/v1/stores/CN-0007").json()["name"] == "深圳福田第7号分店（购物中心店）"
    assert len(admin.get("/v1/stores").json()) == 500


def test_a_bad_line_is_named_and_nothing_is_imported(database_url: str, admin: Caller, tmp_path: Path) -> None:
    lines = chain(10).splitlines()
    lines[6] = "CN-0006,名字,华南区,maybe"  # line 7 of the file
    lines[9] = "有 空格,名字,华南区,true"  # line 10
    lines.append("CN-0001,重复,华南区,true")  # line 12: already on line 3
    result = run(database_url, str(csv_of(tmp_path, "\n".join(lines) + "\n")))
    assert result.returncode == 2
    assert "line 7: active must be true or false" in result.stderr
    assert "line 10: id:" in result.stderr
    assert "line 12: store CN-0001 is already on line 3" in result.stderr
    assert "line 2:" not in result.stderr
    assert "nothing imported" in result.stderr
    assert admin.get("/v1/stores").json() == []


def test_a_byte_order_mark_and_no_active_column(database_url: str, admin: Caller, tmp_path: Path) -> None:
    path = csv_of(tmp_path, "id,name,region\nSZ-FT-012,福田中心店,华南区\nSZ-NS-003,,\n", bom=True)
    result = run(database_url, str(path))
    assert result.returncode == 0, result.stderr
    assert admin.get("/v1/stores").json() == [
        {"id": "SZ-FT-012", "name": "福田中心店", "region": "华南区", "active": True},
        {"id": "SZ-NS-003", "name": None, "region": None, "active": True},
    ]


def test_files_that_are_not_a_store_list(database_url: str, admin: Caller, tmp_path: Path) -> None:
    cases = {
        "no header": "SZ-FT-012,福田中心店,华南区\n",
        "empty": "",
        "header only": "id,name,region\n",
        "extra column": "id,name,region,phone\nSZ-FT-012,店,华南区,138\n",
    }
    for why, text in cases.items():
        result = run(database_url, str(csv_of(tmp_path, text)))
        assert result.returncode == 2, why
        assert result.stderr.startswith("error:"), why
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("id,name,region\nSZ-FT-012,福田中心店,华南区\n".encode("gbk"))
    result = run(database_url, str(gbk))
    assert result.returncode == 2 and "not UTF-8" in result.stderr
    assert admin.get("/v1/stores").json() == []


def test_the_tousu_command_imports(database_url: str, admin: Caller, tmp_path: Path) -> None:
    env = {**os.environ, "TOUSU_DATABASE_URL": database_url, "COLUMNS": "500"}
    path = csv_of(tmp_path, chain(500), bom=True)
    result = subprocess.run(
        [str(TOUSU), "stores", "import", str(path)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported 500 stores"
    assert admin.get("/v1/stores/CN-0499").json()["region"] == REGIONS[499 % 5]
    bad = csv_of(tmp_path, "id,name,region\nSZ-FT-012,店,华南区\n,无号,华南区\n", name="bad.csv")
    result = subprocess.run(
        [str(TOUSU), "stores", "import", str(bad)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "line 3: id:" in result.stderr
    assert admin.get("/v1/stores/SZ-FT-012").status_code == 404
